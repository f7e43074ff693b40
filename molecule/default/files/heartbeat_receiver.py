"""A heartbeat receiver in the healthchecks.io model, for molecule/default.

It stands on the scenario's outside host for the service an operator points
monitoring_heartbeat_url at: every request to /ping/<check> is a ping; a
check whose last ping is older than --grace seconds is "down", and the
receiver notices that by itself (a watcher thread, once a second), prints an
ALERT line and counts it, as healthchecks.io would send its alert.

GET /status/<check> answers JSON:
  {"check", "pings", "last_ping_age" (s, null before the first ping),
   "state" ("new" | "up" | "down"), "alerts" (times it went silent),
   "intervals" (s between the last pings, at most 20)}

Usage: python3 heartbeat_receiver.py [--port 8099] [--grace 40]
"""

import argparse
import http.server
import json
import threading
import time

LOCK = threading.Lock()
CHECKS = {}  # name -> {"pings": [monotonic times], "down": bool, "alerts": int}


def _check(name):
    return CHECKS.setdefault(name, {"pings": [], "down": False, "alerts": 0})


def status(name, grace, now=None):
    """The check's state as the JSON status answer gives it."""
    now = time.monotonic() if now is None else now
    check = _check(name)
    pings = check["pings"]
    tail = pings[-21:]
    age = now - pings[-1] if pings else None
    state = "new" if age is None else ("up" if age <= grace else "down")
    return {
        "check": name,
        "pings": len(pings),
        "last_ping_age": None if age is None else round(age, 1),
        "state": state,
        "alerts": check["alerts"],
        "intervals": [round(later - earlier, 1) for earlier, later in zip(tail, tail[1:])],
    }


def watch(grace):
    """Notice silence: a check that had pings and has none for `grace` s."""
    while True:
        with LOCK:
            for name, check in CHECKS.items():
                silent = bool(check["pings"]) and time.monotonic() - check["pings"][-1] > grace
                if silent and not check["down"]:
                    check["alerts"] += 1
                    print("ALERT %s: no ping for %d s" % (name, grace), flush=True)
                elif check["down"] and not silent:
                    print("RECOVERED %s" % name, flush=True)
                check["down"] = silent
        time.sleep(1)


def handler(grace):
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self):
            parts = self.path.strip("/").split("/")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if len(parts) == 2 and parts[0] == "ping":
                with LOCK:
                    _check(parts[1])["pings"].append(time.monotonic())
                print("PING %s" % parts[1], flush=True)
                return self._answer(200, {"ok": True})
            if len(parts) == 2 and parts[0] == "status" and self.command == "GET":
                with LOCK:
                    return self._answer(200, status(parts[1], grace))
            return self._answer(404, {"error": "use /ping/<check> or /status/<check>"})

        do_GET = do_POST = do_HEAD = _route

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--grace", type=int, default=40)
    args = parser.parse_args()
    threading.Thread(target=watch, args=(args.grace,), daemon=True).start()
    http.server.ThreadingHTTPServer(("0.0.0.0", args.port), handler(args.grace)).serve_forever()


if __name__ == "__main__":
    main()
