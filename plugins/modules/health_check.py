#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: health_check
short_description: Check that a stack is healthy (HTTP, TCP, containers, TLS certificates)
version_added: 0.1.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - Runs HTTP, TCP, container and TLS checks from the target host, all of them at the same time (one thread per check),
    retrying each until it passes, runs out of O(retries) or reaches the O(deadline).
  - Returns the result of every check and fails with a message that lists each failed check and why.
  - Needs nothing but Python's standard library on the target; O(checks[].json_query) needs C(jmespath).
  - V(tls) checks decode the certificate with the Python library C(cryptography) where the target has it (Debian's
    C(python3-cryptography)), and with a small built-in DER reader otherwise; both report the same fields.
  - Container checks talk to the Docker Engine API over its unix socket (no Docker SDK needed).
  - Works ad hoc, for example C(ansible web1 -m prodkit.stack.health_check -a url=https://app.example.com/healthz).
extends_documentation_fragment:
  - prodkit.stack.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs its checks in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  url:
    description:
      - Shortcut for one HTTP check that expects status V(200). It runs before the O(checks).
    type: str
  checks:
    description:
      - The checks to run. Each has a O(checks[].type) and the options of that type.
      - Give O(url), O(checks) or both.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the check in RV(results), RV(failed_checks) and the failure message. Must be unique.
          - Defaults to the URL for V(http), C(tcp HOST:PORT), C(tls HOST:PORT), C(container NAME) or C(service PROJECT/SERVICE).
        type: str
      type:
        description:
          - V(http) sends a request and checks the status, and optionally the body.
          - V(tcp) checks that a port is open (or closed).
          - V(container) checks that a container, or every container of a Compose service, runs and, where it has
            a healthcheck, is healthy.
          - V(tls) checks the certificate that a TLS server presents and how many days it has left.
        type: str
        choices: [http, tcp, container, tls]
        default: http
      url:
        description:
          - For V(http), the URL to request (V(http://) or V(https://)); required. Redirects are not followed.
          - For V(tcp) and V(tls), another way to give O(checks[].host) and O(checks[].port) (V(https://host:8443/)).
        type: str
      method:
        description: HTTP method.
        type: str
        default: GET
      status:
        description: HTTP status codes that pass. Defaults to V(200).
        type: list
        elements: int
      body_regex:
        description: A regular expression (Python syntax) that must be found in the response body (its first MiB).
        type: str
      json_query:
        description:
          - A JMESPath expression applied to the JSON response body. The check passes when its result is not
            null, false or empty, for example V(status == 'ok').
        type: str
      headers:
        description: Request headers. They may carry credentials, so their values are never shown.
        type: dict
      validate_certs:
        description: For V(https) URLs and V(tls) checks, verify the certificate chain and name.
        type: bool
        default: true
      ca_path:
        description: PEM file of CA certificates to trust instead of the system's, for V(https) URLs and V(tls) checks.
        type: path
      resolve:
        description:
          - Connect to this address instead of resolving the URL's host, and still send the URL's host as HTTP C(Host)
            and TLS server name (like C(curl --resolve)). Handy to check one backend behind a load balancer, or a
            virtual host on V(127.0.0.1).
        type: str
      host:
        description: For V(tcp) and V(tls), host name or address to connect to.
        type: str
      port:
        description: For V(tcp) and V(tls), port to connect to. V(tls) defaults to V(443).
        type: int
      state:
        description: For V(tcp), whether the port must be V(open) (accepts connections) or V(closed) (any connection error).
        type: str
        choices: [open, closed]
        default: open
      server_name:
        description: For V(tls), the server name (SNI) to ask for and to verify. Defaults to the host.
        type: str
      min_days:
        description: For V(tls), the fewest whole days the certificate must still be valid.
        type: int
        default: 14
      container:
        description: For V(container), name or ID of the container; give it or O(checks[].project), not both.
        type: str
      project:
        description: For V(container), Compose project name; with O(checks[].service).
        type: str
      service:
        description: For V(container), Compose service name; every container of it must pass.
        type: str
  timeout:
    description: Seconds for each attempt's connection and for each read.
    type: float
    default: 5
  retries:
    description:
      - How many times to try a failed check again.
      - When not set, a check is retried until the O(deadline), or tried once when there is no deadline.
    type: int
  delay:
    description: Seconds between two attempts of one check.
    type: float
    default: 1
  deadline:
    description:
      - Seconds that all the checks together may take. No attempt starts after it, and attempts are cut short to end by it.
    type: float
  docker_host:
    description: Docker Engine API socket for V(container) checks.
    type: str
    default: unix:///var/run/docker.sock
notes:
  - Checks run from the target host, so V(127.0.0.1) is the target itself.
  - HTTP checks do not use proxies and do not follow redirects (list V(301) or V(302) in O(checks[].status) to accept them).
seealso:
  - module: ansible.builtin.uri
  - module: ansible.builtin.wait_for
  - module: community.docker.docker_container_info
'''

EXAMPLES = r'''
- name: The app answers on its health endpoint
  prodkit.stack.health_check:
    url: http://127.0.0.1:8080/

- name: The whole stack is up and its certificate is not about to expire
  prodkit.stack.health_check:
    checks:
      - name: web page
        url: http://127.0.0.1:8080/
        body_regex: hello
      - name: health endpoint as JSON
        url: http://127.0.0.1:8080/health.json
        json_query: "status == 'ok'"
      - name: virtual host, sent to this machine whatever DNS says
        url: https://app.example.com:8443/
        resolve: 127.0.0.1
        ca_path: /etc/ssl/certs/app-ca.pem
        status: [200, 404]
      - name: web port
        type: tcp
        host: 127.0.0.1
        port: 8080
      - name: docker API is not exposed on TCP
        type: tcp
        host: 127.0.0.1
        port: 2375
        state: closed
      - name: web container
        type: container
        container: hello
      - name: compose service
        type: container
        project: app
        service: web
      - name: certificate
        type: tls
        host: 127.0.0.1
        port: 8443
        server_name: app.example.com
        ca_path: /etc/ssl/certs/app-ca.pem
        min_days: 1
    deadline: 60
    delay: 2
  register: stack_health

- name: Report how long each check took
  ansible.builtin.debug:
    msg: "{{ stack_health.results | items2dict(key_name='name', value_name='latency_ms') }}"

- name: Wait up to two minutes for the app to come up after a deploy
  prodkit.stack.health_check:
    checks:
      - url: http://127.0.0.1:8080/
        status: [200, 204]
    timeout: 3
    delay: 2
    deadline: 120
'''

RETURN = r'''
results:
  description: One entry per check, in the order of O(url) and O(checks).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: web page
    type:
      description: Type of the check.
      type: str
      sample: http
    ok:
      description: Whether the check passed.
      type: bool
      sample: true
    attempts:
      description: Attempts made.
      type: int
      sample: 1
    latency_ms:
      description: Duration of the last attempt in milliseconds.
      type: int
      sample: 12
    status:
      description:
        - HTTP status code for V(http); V(open) or V(closed) for V(tcp); the container state for V(container)
          (V(running), V(running (healthy\)), V(exited) ...); C(valid for N days) for V(tls).
      type: raw
      returned: when known
      sample: 200
    error:
      description: Why the last attempt failed.
      type: str
      returned: when the check failed
      sample: status 500, expected 200
    days_left:
      description: Whole days until the certificate expires.
      type: int
      returned: for V(tls) checks that got a certificate
      sample: 4
    not_after:
      description: Expiry of the certificate (UTC, ISO 8601).
      type: str
      returned: for V(tls) checks that got a certificate
      sample: '2026-12-03T10:42:00Z'
    issuer:
      description: Issuer of the certificate.
      type: str
      returned: for V(tls) checks that got a certificate
      sample: CN=app.example.com
    names:
      description: DNS names and IP addresses of the certificate (subject alternative names).
      type: list
      elements: str
      returned: for V(tls) checks that got a certificate
      sample: [app.example.com, 127.0.0.1]
    containers:
      description: Names of the containers checked.
      type: list
      elements: str
      returned: for V(container) checks that found them
      sample: [app-web-1]
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: [certificate]
'''

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.prodkit.stack.plugins.module_utils._health import (
    ConfigError,
    failure_message,
    normalize_checks,
    run_checks,
)


def main():
    argument_spec = dict(
        url=dict(type='str'),
        checks=dict(
            type='list',
            elements='dict',
            options=dict(
                name=dict(type='str'),
                type=dict(type='str', default='http', choices=['http', 'tcp', 'container', 'tls']),
                url=dict(type='str'),
                method=dict(type='str', default='GET'),
                status=dict(type='list', elements='int'),
                body_regex=dict(type='str'),
                json_query=dict(type='str'),
                headers=dict(type='dict', no_log=True),
                validate_certs=dict(type='bool', default=True),
                ca_path=dict(type='path'),
                resolve=dict(type='str'),
                host=dict(type='str'),
                port=dict(type='int'),
                state=dict(type='str', default='open', choices=['open', 'closed']),
                server_name=dict(type='str'),
                min_days=dict(type='int', default=14),
                container=dict(type='str'),
                project=dict(type='str'),
                service=dict(type='str'),
            ),
            mutually_exclusive=[('container', 'project'), ('container', 'service')],
            required_together=[('project', 'service')],
            required_if=[('type', 'http', ('url',)), ('type', 'container', ('container', 'project'), True)],
        ),
        timeout=dict(type='float', default=5),
        retries=dict(type='int'),
        delay=dict(type='float', default=1),
        deadline=dict(type='float'),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
    )
    module = AnsibleModule(argument_spec=argument_spec, required_one_of=[('url', 'checks')], supports_check_mode=True)
    params = module.params
    for option in ('timeout', 'delay', 'deadline'):
        if params[option] is not None and params[option] < 0:
            module.fail_json(msg='Error validating option %s: must not be negative' % option)
    if params['retries'] is not None and params['retries'] < 0:
        module.fail_json(msg='Error validating option retries: must not be negative')
    try:
        checks = normalize_checks(params['url'], params['checks'])
    except ConfigError as exc:
        module.fail_json(msg=str(exc))
    try:
        results = run_checks(checks, timeout=params['timeout'], retries=params['retries'], delay=params['delay'],
                             deadline=params['deadline'], docker_host=params['docker_host'])
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Error checking health: unexpected %s: %s' % (type(exc).__name__, exc), exception=traceback.format_exc())
    failed = [result['name'] for result in results if not result['ok']]
    if failed:
        module.fail_json(msg=failure_message(results), results=results, failed_checks=failed)
    module.exit_json(changed=False, results=results, failed_checks=[])


if __name__ == '__main__':
    main()
