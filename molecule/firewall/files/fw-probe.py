"""Probe TCP ports concurrently and tell how each answers.

    fw-probe [--source ADDR] [--timeout S] [--repeat N] HOST PORT [PORT ...]

Prints one JSON object, port -> result ("open", "refused" or "timeout"), or
with --repeat N a list of N results for the single PORT, all attempted at
once. "open" means a TCP handshake completed and the listener answered an
HTTP request ("open" even if it answered nothing); "refused" means a RST came
back (the port is reachable, nothing listens); "timeout" means no answer at
all, i.e. a firewall dropped the packets.
"""

import argparse
import concurrent.futures
import json
import socket


def probe(host, port, source, timeout):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if source:
            sock.bind((source, 0))
        sock.connect((host, port))
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    except OSError as exc:
        return "error: %s" % exc
    try:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        sock.recv(64)
    except OSError:
        pass
    finally:
        sock.close()
    return "open"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source")
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("host")
    parser.add_argument("ports", nargs="+", type=int)
    args = parser.parse_args()
    jobs = [port for port in args.ports for _attempt in range(args.repeat)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda port: probe(args.host, port, args.source, args.timeout), jobs))
    if args.repeat > 1:
        print(json.dumps(results))
    else:
        print(json.dumps({str(port): result for port, result in zip(args.ports, results)}, sort_keys=True))


if __name__ == "__main__":
    main()
