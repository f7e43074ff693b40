"""Steady HTTPS requests to one URL until a stop file appears.

Each request opens a new connection (as a new visitor does), so a reload of
nginx that dropped connections or refused new ones would show. Every
non-200 answer, reset, refusal, TLS error or timeout counts as failed. The
report (JSON) is rewritten every second while it runs, and a last time with
"running": false when it stops.
"""

import argparse
import json
import os
import ssl
import time
import urllib.error
import urllib.request


def one_request(url, context, timeout):
    """None when the URL answered 200, else what went wrong."""
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as response:
            response.read()
            return None if response.status == 200 else "status %d" % response.status
    except urllib.error.HTTPError as error:
        return "status %d" % error.code
    except urllib.error.URLError as error:
        return type(error.reason).__name__
    except OSError as error:
        return type(error).__name__


def write_report(path, report):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(report, handle)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()

    context = ssl.create_default_context(cafile=args.cafile)
    report = {"url": args.url, "rate": args.rate, "requests": 0, "failed": 0, "kinds": {}, "running": True}
    started = time.monotonic()
    next_at = started
    last_write = 0.0
    while not os.path.exists(args.stop_file):
        failure = one_request(args.url, context, args.timeout)
        report["requests"] += 1
        if failure:
            report["failed"] += 1
            report["kinds"][failure] = report["kinds"].get(failure, 0) + 1
        now = time.monotonic()
        report["seconds"] = round(now - started, 1)
        if now - last_write >= 1:
            write_report(args.report, report)
            last_write = now
        next_at += 1.0 / args.rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    report["running"] = False
    report["seconds"] = round(time.monotonic() - started, 1)
    write_report(args.report, report)


if __name__ == "__main__":
    main()
