#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark: do health_check's checks really run at the same time?

Starts an HTTP server on 127.0.0.1 whose every answer takes SLEEP seconds,
then times N HTTP checks against it:

1. the library (module_utils._health.run_checks) with one worker: the
   sequential baseline, about N x SLEEP;
2. the library as the module runs it (one thread per check): about SLEEP;
3. the real module through ``ansible localhost -m prodkit.stack.health_check``
   (adds Ansible's own start-up time), when ``ansible`` is on the PATH.

Run from the checkout with the virtualenv's Python:

    .venv/bin/python benchmarks/health_check_concurrency.py [--checks 10] [--sleep 1.0]

Exits non-zero when the concurrent run takes more than twice SLEEP.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, '.ansible', 'collections'))

from ansible_collections.prodkit.stack.plugins.module_utils._health import normalize_checks, run_checks  # noqa: E402  pylint: disable=wrong-import-position


def make_handler(sleep):
    class SlowHandler(BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            time.sleep(sleep)
            body = b'ok\n'
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass
    return SlowHandler


def timed(label, func):
    started = time.monotonic()
    value = func()
    elapsed = time.monotonic() - started
    print('%-48s %6.2f s' % (label, elapsed))
    return elapsed, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--checks', type=int, default=10, help='number of HTTP checks (default 10)')
    parser.add_argument('--sleep', type=float, default=1.0, help='seconds each answer takes (default 1.0)')
    parser.add_argument('--skip-ansible', action='store_true', help='do not time the module through ansible')
    args = parser.parse_args()

    server = ThreadingHTTPServer(('127.0.0.1', 0), make_handler(args.sleep))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = 'http://127.0.0.1:%d' % server.server_address[1]
    spec = [{'name': 'check %d' % i, 'url': '%s/slow/%d' % (base, i)} for i in range(args.checks)]
    checks = normalize_checks(None, spec)
    print('%d HTTP checks, each answer takes %.1f s (server %s)' % (args.checks, args.sleep, base))

    sequential, results = timed('library, one worker (sequential baseline)', lambda: run_checks(checks, timeout=10, max_workers=1))
    assert all(result['ok'] for result in results), results
    concurrent, results = timed('library, one thread per check (as the module)', lambda: run_checks(checks, timeout=10))
    assert all(result['ok'] for result in results), results
    latencies = sorted(result['latency_ms'] for result in results)
    print('  per-check latency: min %d ms, max %d ms' % (latencies[0], latencies[-1]))

    module_time = None
    ansible = shutil.which('ansible') or os.path.join(os.path.dirname(sys.executable), 'ansible')
    if not args.skip_ansible and os.path.exists(ansible):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.ansible', 'collections'),
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, NO_COLOR='1')
        module_args = json.dumps({'checks': spec, 'timeout': 10})

        def run_ansible():
            return subprocess.run([ansible, 'localhost', '-c', 'local', '-i', 'localhost,', '-m', 'prodkit.stack.health_check',
                                   '-a', module_args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        # Ansible's start-up alone, for reference.
        baseline, dummy = timed('ansible ad hoc, module ansible.builtin.ping', lambda: subprocess.run(
            [ansible, 'localhost', '-c', 'local', '-i', 'localhost,', '-m', 'ansible.builtin.ping'],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False))
        module_time, proc = timed('ansible ad hoc, module prodkit.stack.health_check', run_ansible)
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-2000:])
            return 2
        print('  module time beyond ansible start-up: %.2f s' % (module_time - baseline))

    server.shutdown()
    print('speed-up of the concurrent run over the sequential one: %.1fx' % (sequential / concurrent))
    if concurrent > 2 * args.sleep:
        print('FAIL: %d checks of %.1f s took %.2f s' % (args.checks, args.sleep, concurrent))
        return 1
    print('OK: %d checks of %.1f s each finished in %.2f s' % (args.checks, args.sleep, concurrent))
    return 0


if __name__ == '__main__':
    sys.exit(main())
