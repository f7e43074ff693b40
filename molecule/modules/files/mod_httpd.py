# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test server for the `modules` scenario: known answers for health_check.

  /ok    200 "hello from prodkit-testbed"
  /fail  500
  /json  200 {"status": "ok", "checks": {"db": "up", "cache": "down"}}
  other  404

With --cert and --key it serves HTTPS.
"""

import argparse
import json
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROUTES = {
    '/': (200, 'text/plain', b'hello from prodkit-testbed\n'),
    '/ok': (200, 'text/plain', b'hello from prodkit-testbed\n'),
    '/fail': (500, 'text/plain', b'internal server error\n'),
    '/json': (200, 'application/json', json.dumps({'status': 'ok', 'checks': {'db': 'up', 'cache': 'down'}}).encode()),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # pylint: disable=invalid-name
        status, ctype, body = ROUTES.get(self.path, (404, 'text/plain', b'not found\n'))
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--cert')
    parser.add_argument('--key')
    args = parser.parse_args()
    server = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
