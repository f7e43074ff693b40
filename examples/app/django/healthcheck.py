#!/usr/bin/env python3
"""Container healthchecks of the Django image: exit 0 when healthy, else 1
with the reason on stdout (Docker keeps it in `docker inspect`).

    healthcheck.py http URL        a 2xx answer within 3 s (a redirect fails)
    healthcheck.py celery-worker   this container's worker (celery@HOSTNAME)
                                   answers a ping within 5 s
    healthcheck.py celery-beat     a beat process runs and handed a task to
                                   the broker within 3 heartbeat periods
                                   (CELERY_BEAT_HEARTBEAT_SECONDS; beat writes
                                   /tmp/celerybeat-sent as it starts and after
                                   each task sent)

The http check uses the standard library only; the worker check loads the
Celery app (the same settings as the worker).
"""
import glob
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

BEAT_SENT_FILE = "/tmp/celerybeat-sent"  # see myproject/celery.py


def healthy(message):
    print(message)
    sys.exit(0)


def unhealthy(message):
    print("UNHEALTHY: %s" % message)
    sys.exit(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError for the 3xx


def check_http(url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(url, timeout=3) as response:
            body = response.read(300)
            status = response.status
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
        unhealthy("%s answered %s %s" % (url, exc.code, " ".join(detail.split())))
    except (urllib.error.URLError, OSError) as exc:
        unhealthy("%s: %s" % (url, getattr(exc, "reason", exc)))
    if not 200 <= status < 300:
        unhealthy("%s answered %s" % (url, status))
    healthy("%s answered %s %s" % (url, status, " ".join(body.decode("utf-8", "replace").split())[:200]))


def _alarm(signum, frame):
    unhealthy("no answer within the healthcheck's time limit (broker unreachable?)")


def check_celery_worker():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings.prod")
    # Connecting to a broker that is down retries; bound the whole check.
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(8)
    from myproject.celery import app

    node = "celery@%s" % socket.gethostname()
    try:
        replies = app.control.ping(destination=[node], timeout=5)
    except Exception as exc:
        unhealthy("ping of %s failed: %s: %s" % (node, type(exc).__name__, exc))
    for reply in replies or []:
        if node in reply:
            healthy("%s answered %s" % (node, reply[node]))
    unhealthy("%s did not answer a ping within 5 s" % node)


def _beat_running():
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as handle:
                args = handle.read().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"celery") for arg in args) and b"beat" in args:
            return True
    return False


def check_celery_beat():
    raw = os.environ.get("CELERY_BEAT_HEARTBEAT_SECONDS", "") or "10"
    try:
        period = float(raw)
    except ValueError:
        unhealthy("CELERY_BEAT_HEARTBEAT_SECONDS is not a number: %r" % raw)
    max_age = max(3 * period, 10)
    if not _beat_running():
        unhealthy("no celery beat process runs in this container")
    try:
        age = time.time() - os.stat(BEAT_SENT_FILE).st_mtime
    except OSError:
        unhealthy("beat has not started yet (no %s)" % BEAT_SENT_FILE)
    if age > max_age:
        unhealthy("beat has sent no task for %.0f s (more than 3 x %.0f s): "
                  "can it reach the broker?" % (age, period))
    healthy("beat runs; last task sent (or start) %.0f s ago" % age)


def main(argv):
    if len(argv) == 2 and argv[0] == "http":
        check_http(argv[1])
    elif argv == ["celery-worker"]:
        check_celery_worker()
    elif argv == ["celery-beat"]:
        check_celery_beat()
    print("usage: healthcheck.py http URL | celery-worker | celery-beat", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
