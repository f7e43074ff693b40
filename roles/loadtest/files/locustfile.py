# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Locust load for the reference stack, shaped by environment variables.

prodkit.stack.loadtest runs it headless (``locust -f locustfile.py -H URL``)
and sets:

  LOADTEST_ROUTES           JSON list of {name, path, weight, method, expect}
                            (expect: accepted statuses; empty: any 2xx)
  LOADTEST_USER_RPS         requests per second of each user (0: no pacing)
  LOADTEST_KEEPALIVE        "true": reuse connections; otherwise every
                            request opens a new TCP (and TLS) connection and
                            sends "Connection: close"
  LOADTEST_RESOLVE          JSON map {"host:port" or "host": "address"}, like
                            curl --resolve: the name stays in the URL, the
                            Host header and the TLS server name
  LOADTEST_CA_PATH          PEM bundle to verify the site with
  LOADTEST_VALIDATE_CERTS   "false": do not verify the certificate
  LOADTEST_TIMEOUT          seconds for connecting and for each read
  LOADTEST_STOP_FILE        a path: the run ends (and writes its report, as
                            at the end of --run-time) once a file is there

Failures are named by kind so that the report can count them: "http 503",
"http 404 unexpected", "connection reset", "connection refused",
"tls error", "timeout", "other".
"""

import http.client
import json
import os
import socket
import ssl

import gevent
from locust import HttpUser, constant, constant_throughput, events

DEFAULT_ROUTES = [
    {"name": "home", "path": "/", "weight": 20},
    {"name": "healthz", "path": "/healthz", "weight": 10},
    {"name": "api_ping", "path": "/api/ping", "weight": 40},
    {"name": "static", "path": "/static/version.txt", "weight": 15},
    {"name": "media", "path": "/media/loadtest/probe.txt", "weight": 5},
    {"name": "node_api", "path": "/node-api/health", "weight": 10},
]


def env_flag(name, default):
    value = os.environ.get(name, "")
    if not value:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def load_routes(text):
    routes = json.loads(text) if text else DEFAULT_ROUTES
    if not isinstance(routes, list) or not routes:
        raise ValueError("LOADTEST_ROUTES must be a non-empty JSON list")
    for route in routes:
        if not route.get("name") or not str(route.get("path", "")).startswith("/"):
            raise ValueError("LOADTEST_ROUTES: every route needs a name and a path starting with /: %r" % (route,))
        if int(route.get("weight", 1)) < 1:
            raise ValueError("LOADTEST_ROUTES: route %s: weight must be at least 1" % route["name"])
    return routes


def resolve_map(text):
    """{(host, port or None): address} from {"host:port" or "host": address}."""
    result = {}
    for key, address in (json.loads(text) if text else {}).items():
        host, sep, port = key.rpartition(":")
        if not sep or not port.isdigit():
            host, port = key, None
        result[(host.strip("[]").lower(), int(port) if port else None)] = address
    return result


def install_resolver(mapping):
    """Send mapped names to their address by wrapping socket.getaddrinfo."""
    if not mapping:
        return
    original = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        key = str(host).lower() if host is not None else ""
        address = mapping.get((key, int(port) if str(port).isdigit() else None), mapping.get((key, None)))
        return original(address if address else host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def _exception_chain(exc):
    seen, todo = [], [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        todo.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return seen


def failure_kind(exc):
    """The report's name for an exception raised by a request."""
    chain = _exception_chain(exc)
    names = " ".join(type(e).__name__ for e in chain)
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
        return "connection refused"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSLError" in names:
        tls = next((type(e).__name__ for e in reversed(chain) if isinstance(e, ssl.SSLError)), "SSLError")
        return "tls error: %s" % tls
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)) for e in chain):
        return "connection reset"
    if any(isinstance(e, (socket.timeout, TimeoutError)) for e in chain) or "Timeout" in names:
        return "timeout"
    if "Connection aborted" in text:
        return "connection reset"
    root = chain[-1] if chain else exc
    return "other: %s: %s" % (type(root).__name__, str(root)[:120])


def status_failure(status, expect):
    """The failure message for an HTTP status, or None when it is accepted."""
    if (expect and status in expect) or (not expect and 200 <= status < 300):
        return None
    return "http %d" % status if status >= 500 else "http %d unexpected" % status


ROUTES = load_routes(os.environ.get("LOADTEST_ROUTES", ""))
USER_RPS = float(os.environ.get("LOADTEST_USER_RPS") or 0)
KEEPALIVE = env_flag("LOADTEST_KEEPALIVE", False)
TIMEOUT = float(os.environ.get("LOADTEST_TIMEOUT") or 10)
VERIFY = os.environ.get("LOADTEST_CA_PATH") or env_flag("LOADTEST_VALIDATE_CERTS", True)
install_resolver(resolve_map(os.environ.get("LOADTEST_RESOLVE", "")))
if VERIFY is False:
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


STOP_FILE = os.environ.get("LOADTEST_STOP_FILE", "")
STOP_POLL_SECONDS = 0.5


def watch_stop_file(environment, path, poll=STOP_POLL_SECONDS):
    """End the run the way --run-time does once `path` exists."""
    while not os.path.exists(path):
        gevent.sleep(poll)
    environment.runner.quit()


@events.test_start.add_listener
def _start_stop_file_watch(environment, **_kwargs):
    if STOP_FILE and environment.runner is not None:
        gevent.spawn(watch_stop_file, environment, STOP_FILE)


def make_task(route):
    method = str(route.get("method") or "GET").upper()
    expect = [int(code) for code in route.get("expect") or []]
    headers = {} if KEEPALIVE else {"Connection": "close"}

    def request(user):
        with user.client.request(method, route["path"], name=route["name"], headers=headers, timeout=TIMEOUT,
                                 allow_redirects=False, catch_response=True) as response:
            if getattr(response, "error", None) is not None and not response.status_code:
                response.failure(failure_kind(response.error))
            else:
                message = status_failure(response.status_code, expect)
                if message:
                    response.failure(message)
                else:
                    response.success()
        if not KEEPALIVE:
            # Drop the pool: the next request connects (and handshakes) anew.
            user.client.close()

    request.__name__ = "route_%s" % route["name"]
    return request


class SiteUser(HttpUser):
    """One visitor of the site: weighted routes, paced to LOADTEST_USER_RPS."""

    tasks = {make_task(route): int(route.get("weight", 1)) for route in ROUTES}
    wait_time = constant_throughput(USER_RPS) if USER_RPS > 0 else constant(0)

    def on_start(self):
        self.client.verify = VERIFY
        self.client.trust_env = False
