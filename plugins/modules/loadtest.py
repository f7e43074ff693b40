#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: loadtest
short_description: Judge a Locust load test and write its report (summary.json, report.txt)
version_added: 0.3.0
author:
  - prodkit.stack maintainers (@prodkit)
description:
  - Reads the CSV files of one or more headless Locust runs (one per step) and the container samples taken on
    the target hosts while they ran (C(docker stats --no-stream --format '{{json .}}') output), and writes
    C(summary.json) and C(report.txt) into O(report_dir).
  - Per route and in total, requests, requests per second, the 50th, 95th and 99th percentiles and the failures
    by kind. Failures are classified from Locust's error texts into C(http_<code>) (every status a route does not
    accept, i.e. 5xx server errors and unexpected 4xx), C(connection_reset), C(connection_refused), C(tls_error),
    C(timeout) and C(other).
  - Per container, the peak CPU (100% is one core) and the peak memory; the busiest container, and a bottleneck
    named by a simple rule (see RV(summary.bottleneck)).
  - In V(capacity) mode, the highest step at which the service level held and the step where it broke.
    A step holds when its 95th percentile is at most O(slo_p95_ms), its failure rate at most O(slo_error_rate),
    and it achieved at least O(min_achieved_ratio) of its target rate.
  - The prodkit.stack.loadtest role calls it after every step, so that the report on disk is always current.
  - It never fails because the service level was missed; it reports it in RV(slo_ok).
extends_documentation_fragment:
  - prodkit.stack.attributes
attributes:
  check_mode:
    support: full
    details: In check mode the report is computed and returned, and nothing is written.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  report_dir:
    description: Directory that receives C(summary.json) and C(report.txt). It must exist.
    type: path
    required: true
  mode:
    description:
      - V(steady) is one step at a fixed rate, V(capacity) a ramp of steps that stops at the first broken one.
    type: str
    choices: [steady, capacity]
    default: steady
  target_url:
    description: The URL the load was sent to.
    type: str
    required: true
  steps:
    description: The Locust runs, in the order they ran.
    type: list
    elements: dict
    default: []
    suboptions:
      rate:
        description: Target rate of the step in requests per second.
        type: float
        required: true
      duration:
        description: Seconds the step held its rate (after the users were started).
        type: int
        required: true
      users:
        description: Locust users of the step.
        type: int
      csv_prefix:
        description: The C(--csv) prefix of the run (C(PREFIX_stats.csv), C(PREFIX_failures.csv)).
        type: path
        required: true
      rc:
        description: Exit status of the Locust command (C(timeout) gives 124).
        type: int
        default: 0
      log:
        description:
          - Locust's log output (stderr); a CPU warning in it marks the load generator as saturated.
          - The output of the shell builtin C(times) at its end gives Locust's CPU time (with O(steps[].wall)).
        type: str
        default: ''
      wall:
        description: Wall time of the Locust command, as Ansible's C(delta) (V(0:00:18.740000)).
        type: str
        default: ''
      samples:
        description:
          - Container samples per target host, the output of the role's sampler, keyed by inventory host name.
          - 'Lines C(# cpus N), C(# container NAME PROJECT SERVICE), C(# sample EPOCH) and one C(docker stats) JSON
            object per container and sample.'
        type: dict
        default: {}
  routes:
    description: The routes the run was configured with (recorded in the summary as given).
    type: list
    elements: dict
    default: []
  keepalive:
    description: Whether connections were reused (recorded in the summary).
    type: bool
    default: false
  runner:
    description: Where Locust ran (recorded in the summary), V(controller) or an inventory host name.
    type: str
    default: controller
  slo_p95_ms:
    description: The service level's 95th percentile of response time, in milliseconds.
    type: float
    default: 500
  slo_error_rate:
    description: The service level's highest share of failed requests (V(0.01) is 1%).
    type: float
    default: 0.01
  min_achieved_ratio:
    description: In V(capacity) mode a step whose achieved rate is below this share of its target breaks the service level.
    type: float
    default: 0.9
  project:
    description: Compose project of the stack; its containers' services are matched by the names below.
    type: str
    default: ''
  django_service:
    description: Compose service of Django (gunicorn).
    type: str
    default: django
  django_workers:
    description: Gunicorn workers of the Django service.
    type: int
    default: 3
  db_service:
    description: Compose service of the database.
    type: str
    default: db
  nginx_service:
    description: Compose service of nginx.
    type: str
    default: nginx
  started:
    description: When the run started (UTC, ISO 8601), recorded in the summary.
    type: str
    default: ''
  finished:
    description: When the last step ended (UTC, ISO 8601), recorded in the summary.
    type: str
    default: ''
  error:
    description: A failure that ended the run early; recorded as RV(summary.error) with status V(error).
    type: str
    default: ''
  running:
    description:
      - The run goes on (more steps follow, or none has run yet). The status is then V(running), so that a reader
        of C(summary.json) knows to wait.
    type: bool
    default: false
notes:
  - The module runs where the CSV files are, usually the controller (C(delegate_to=localhost)).
seealso:
  - name: Locust
    description: The load generator whose CSV files this module reads.
    link: https://docs.locust.io/
'''

EXAMPLES = r'''
- name: Judge the run and write the report
  prodkit.stack.loadtest:
    report_dir: /srv/loadtest-reports/20261204T101500Z
    mode: steady
    target_url: https://app.example.com
    steps:
      - rate: 100
        duration: 60
        users: 200
        csv_prefix: /srv/loadtest-reports/20261204T101500Z/locust
        samples:
          web1: "{{ sampler_output.stdout }}"
    project: myproject
    django_workers: 5
  delegate_to: localhost
  run_once: true
  register: loadtest_report

- name: Show it
  ansible.builtin.debug:
    msg: "{{ loadtest_report.report_lines }}"
'''

RETURN = r'''
summary:
  description: What C(summary.json) holds.
  returned: always
  type: dict
  contains:
    status:
      description: V(running) while steps remain, then V(passed) or V(slo_failed) (steady), V(completed) (capacity), or V(error).
      type: str
      sample: passed
    mode:
      description: V(steady) or V(capacity).
      type: str
    target_url:
      description: The URL under load.
      type: str
    rate:
      description: Target rate in requests per second (capacity, the last step's).
      type: float
    duration:
      description: Seconds at that rate (capacity, per step).
      type: int
    error:
      description: What ended the run early (status V(error)), else null.
      type: str
    slo_ok:
      description: Steady, whether the 95th percentile and the failure rate met the service level; capacity, null.
      type: bool
    totals:
      description:
        - C(requests), C(failures), C(error_rate), C(failures_by_kind) (C(http_503), C(connection_reset) ...),
          C(failures_by_class) (C(http_5xx), C(http_4xx_unexpected), C(connection_reset),
          C(connection_refused), C(tls_error), C(timeout), C(other)), C(rps), C(target_rps),
          C(achieved_ratio), C(p50), C(p95), C(p99), C(avg), C(max) (milliseconds).
        - Capacity, those of the last step run.
      type: dict
    routes:
      description: The same figures per route.
      type: list
      elements: dict
    containers:
      description: Per host and container, C(cpu_peak_percent), C(cpu_avg_percent), C(mem_peak_bytes), C(mem_limit_bytes).
      type: list
      elements: dict
    busiest_container:
      description: The container with the highest CPU peak (C(host), C(name), C(service), C(cpu_peak_percent)).
      type: dict
    bottleneck:
      description:
        - The busiest container named as a cause. Below 50% of one CPU, on hosts below 90% of theirs, "none evident".
          Django at 80% or more of the smaller of (its workers x 100%)
          and (the host's CPUs x 100%) is "gunicorn workers saturated"; the database service "the database";
          nginx "nginx"; otherwise the service. When a host's CPUs were 90% busy (its own /proc/stat when sampled,
          else its containers together), "host CPUs saturated" is added; when Locust used 80% or more of one core
          (or warned of its CPU), "load generator CPU-bound"; when the service level broke and nothing was
          saturated, a pointer outside the containers.
      type: str
    peak_rate:
      description: Capacity, the highest target rate at which the service level held (null when none did).
      type: float
    broke_at:
      description: Capacity, the first step that broke the service level (C(rate), C(reasons)), or null.
      type: dict
    steps:
      description: Every step with its own totals, routes, containers, bottleneck and verdict.
      type: list
      elements: dict
report_lines:
  description: The report as text lines (C(report.txt)).
  returned: always
  type: list
  elements: str
slo_ok:
  description: Steady mode, whether the service level held; capacity mode, always true.
  returned: always
  type: bool
stop:
  description: Capacity mode, whether the last step broke the service level (no further step should run).
  returned: always
  type: bool
'''

import csv
import json
import os
import re
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule

FAILURE_CLASSES = ('http_5xx', 'http_4xx_unexpected', 'connection_reset', 'connection_refused', 'tls_error', 'timeout', 'other')

_HTTP_PATTERNS = (
    re.compile(r'\bhttp (\d{3})\b', re.IGNORECASE),
    re.compile(r'\b(\d{3}) (?:Server|Client) Error\b'),
    re.compile(r'\bcode=(\d{3})\b'),
)
_KIND_PATTERNS = (
    ('connection_refused', re.compile(r'connection refused|ConnectionRefusedError|Errno 111\b|ECONNREFUSED', re.IGNORECASE)),
    ('tls_error', re.compile(r'tls error|SSL|CERTIFICATE_VERIFY|unexpected eof|EOF occurred in violation', re.IGNORECASE)),
    ('connection_reset', re.compile(r'connection reset|ConnectionResetError|Errno 104\b|ECONNRESET|RemoteDisconnected|'
                                    r'Connection aborted|BrokenPipe|Connection closed', re.IGNORECASE)),
    ('timeout', re.compile(r'timeout|timed out', re.IGNORECASE)),
)
_SIZE_UNITS = {'b': 1, 'kb': 1000, 'mb': 1000 ** 2, 'gb': 1000 ** 3, 'tb': 1000 ** 4,
               'kib': 1024, 'mib': 1024 ** 2, 'gib': 1024 ** 3, 'tib': 1024 ** 4}
_CPU_WARNING = re.compile(r'CPU usage (?:above|was too high)', re.IGNORECASE)
# The shell's `times`: the second line is its children's user and system time.
_TIMES = re.compile(r'^\s*\d+m[0-9.]+s \d+m[0-9.]+s\s*\n\s*(\d+)m([0-9.]+)s (\d+)m([0-9.]+)s\s*$', re.MULTILINE)


class ReportError(Exception):
    """A problem with the run's files, named for the report."""


def classify_failure(text):
    """The kind of one Locust error text: http_<code>, connection_reset, ..., other."""
    text = str(text or '')
    for pattern in _HTTP_PATTERNS:
        match = pattern.search(text)
        if match:
            return 'http_%s' % match.group(1)
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return 'other'


def failure_class(kind):
    """The class (one of FAILURE_CLASSES) of a kind from classify_failure."""
    match = re.match(r'^http_(\d{3})$', kind)
    if match:
        code = int(match.group(1))
        return 'http_5xx' if code >= 500 else 'http_4xx_unexpected' if code >= 400 else 'other'
    return kind if kind in FAILURE_CLASSES else 'other'


def number(text):
    """A float from a Locust CSV cell ('N/A' and '' are None)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def read_csv(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding='utf-8', newline='') as handle:
        return list(csv.DictReader(handle))


def stats_entry(row):
    """One row of PREFIX_stats.csv as the report's figures."""
    requests = int(number(row.get('Request Count')) or 0)
    failures = int(number(row.get('Failure Count')) or 0)
    return {
        'name': row.get('Name', ''),
        'method': row.get('Type', ''),
        'requests': requests,
        'failures': failures,
        'error_rate': round(failures / requests, 4) if requests else 0.0,
        'rps': round(number(row.get('Requests/s')) or 0.0, 2),
        'p50': number(row.get('50%')),
        'p95': number(row.get('95%')),
        'p99': number(row.get('99%')),
        'avg': None if number(row.get('Average Response Time')) is None else round(number(row.get('Average Response Time')), 1),
        'max': None if number(row.get('Max Response Time')) is None else round(number(row.get('Max Response Time')), 1),
    }


def failures_by_route(rows):
    """{route name: {kind: count}} from PREFIX_failures.csv rows."""
    result = {}
    for row in rows or []:
        kind = classify_failure(row.get('Error', ''))
        count = int(number(row.get('Occurrences')) or 0)
        per_route = result.setdefault(row.get('Name', ''), {})
        per_route[kind] = per_route.get(kind, 0) + count
    return result


def by_class(kinds):
    classes = dict((name, 0) for name in FAILURE_CLASSES)
    for kind, count in kinds.items():
        classes[failure_class(kind)] += count
    return classes


def merge_counts(dicts):
    total = {}
    for item in dicts:
        for key, count in item.items():
            total[key] = total.get(key, 0) + count
    return dict(sorted(total.items()))


def read_locust_run(prefix):
    """Routes and totals of one run from its CSV files."""
    stats = read_csv(prefix + '_stats.csv')
    if stats is None:
        raise ReportError('no Locust statistics at %s_stats.csv' % prefix)
    failures = failures_by_route(read_csv(prefix + '_failures.csv'))
    exceptions = read_csv(prefix + '_exceptions.csv') or []
    routes, totals = [], None
    for row in stats:
        entry = stats_entry(row)
        if entry['name'] == 'Aggregated' and not entry['method']:
            totals = entry
            continue
        kinds = failures.get(entry['name'], {})
        entry['failures_by_kind'] = dict(sorted(kinds.items()))
        routes.append(entry)
    if totals is None:
        totals = stats_entry({'Name': 'Aggregated'})
    totals.pop('name', None)
    totals.pop('method', None)
    totals['failures_by_kind'] = merge_counts(failures.values())
    totals['failures_by_class'] = by_class(totals['failures_by_kind'])
    totals['locustfile_errors'] = sum(int(number(row.get('Count')) or 0) for row in exceptions)
    return routes, totals


def size_bytes(text):
    """Bytes from a docker stats size ('7.039MiB', '1GiB', '0B')."""
    match = re.match(r'^\s*([0-9.]+)\s*([A-Za-z]*)\s*$', str(text or ''))
    if not match:
        return None
    unit = match.group(2).lower() or 'b'
    return int(float(match.group(1)) * _SIZE_UNITS.get(unit, 1))


def human_bytes(value):
    if value is None:
        return '?'
    for unit, factor in (('GiB', 1024 ** 3), ('MiB', 1024 ** 2), ('KiB', 1024)):
        if value >= factor:
            return '%.1f %s' % (value / float(factor), unit)
    return '%d B' % value


def host_cpu_peak(stat_lines, cpus):
    """The host's busiest interval in % (100 = one core) from successive /proc/stat "cpu" lines, or None."""
    peak, previous = None, None
    for line in stat_lines:
        values = [int(v) for v in line.split()[1:9] if v.isdigit()]
        if len(values) < 5:
            continue
        total, idle = sum(values), values[3] + values[4]
        if previous and total > previous[0]:
            busy = 100.0 * ((total - previous[0]) - (idle - previous[1])) / (total - previous[0]) * (cpus or 1)
            peak = busy if peak is None else max(peak, busy)
        previous = (total, idle)
    return None if peak is None else round(peak, 1)


def parse_samples(text):
    """(cpus, {container: (project, service)}, [sample, ...], host CPU peak) from the sampler's output.

    Each sample is a list of {name, cpu, mem, limit} for the containers seen in
    one `docker stats --no-stream` round; a sample line may carry the host's
    /proc/stat "cpu" line.
    """
    cpus, labels, samples, current, stat_lines = None, {}, [], None, []
    for line in str(text or '').splitlines():
        line = line.strip()
        if line.startswith('# cpus '):
            cpus = int(number(line.split()[2]) or 0) or None
        elif line.startswith('# container '):
            fields = line.split()[2:] + ['', '']
            labels[fields[0]] = (fields[1], fields[2])
        elif line.startswith('# sample'):
            current = []
            samples.append(current)
            if ' cpu ' in line:
                stat_lines.append(line[line.index(' cpu ') + 1:])
        elif line.startswith('{'):
            try:
                stat = json.loads(line)
            except ValueError:
                continue
            if current is None:
                current = []
                samples.append(current)
            usage = str(stat.get('MemUsage', '')).split('/')
            current.append({
                'name': stat.get('Name') or stat.get('Container', ''),
                'cpu': number(str(stat.get('CPUPerc', '')).rstrip('%')) or 0.0,
                'mem': size_bytes(usage[0]) if usage else None,
                'limit': size_bytes(usage[1]) if len(usage) > 1 else None,
            })
    return cpus, labels, [sample for sample in samples if sample], host_cpu_peak(stat_lines, cpus)


def service_of(name, labels, project):
    """The Compose service of a container: its label, else its name without project prefix and -N suffix."""
    label_project, service = labels.get(name, ('', ''))
    if service:
        return service, label_project
    base = re.sub(r'[-_][0-9]+$', '', name)
    if project and base.startswith(project + '-'):
        return base[len(project) + 1:], project
    return base, ''


def container_peaks(samples_by_host, project=''):
    """Per host and container the peak and mean CPU and the peak memory; per host its CPUs and peak total CPU."""
    containers, hosts = [], {}
    for host in sorted(samples_by_host):
        cpus, labels, samples, host_cpu = parse_samples(samples_by_host[host])
        per_name = {}
        host_peak = 0.0
        for sample in samples:
            host_peak = max(host_peak, sum(stat['cpu'] for stat in sample))
            for stat in sample:
                per_name.setdefault(stat['name'], []).append(stat)
        hosts[host] = {'cpus': cpus, 'cpu_peak_percent': round(host_peak, 1), 'host_cpu_peak_percent': host_cpu,
                       'samples': len(samples)}
        for name in sorted(per_name):
            stats = per_name[name]
            service, stat_project = service_of(name, labels, project)
            mem_peak = max((s['mem'] for s in stats if s['mem'] is not None), default=None)
            limit = max((s['limit'] for s in stats if s['limit'] is not None), default=None)
            containers.append({
                'host': host,
                'name': name,
                'project': stat_project,
                'service': service,
                'cpu_peak_percent': round(max(s['cpu'] for s in stats), 1),
                'cpu_avg_percent': round(sum(s['cpu'] for s in stats) / len(stats), 1),
                'mem_peak_bytes': mem_peak,
                'mem_limit_bytes': limit,
                'mem_peak_percent': round(100.0 * mem_peak / limit, 1) if mem_peak is not None and limit else None,
                'samples': len(stats),
            })
    containers.sort(key=lambda c: (-c['cpu_peak_percent'], c['host'], c['name']))
    return containers, hosts


def _host_cpu(info):
    """A host's CPU peak: the whole host's when sampled, else its containers' together."""
    return info['host_cpu_peak_percent'] if info.get('host_cpu_peak_percent') is not None else info['cpu_peak_percent']


def _host_busy(info):
    return bool(info.get('cpus')) and _host_cpu(info) >= 90.0 * info['cpus']


def name_bottleneck(containers, hosts, django_service='django', django_workers=3, db_service='db',
                    nginx_service='nginx', generator_saturated=False, generator_cpu_percent=None, slo_broken=False):
    """(busiest container or None, bottleneck text): the simple rule of RETURN's summary.bottleneck."""
    busiest = max(containers, key=lambda c: c['cpu_peak_percent'], default=None)
    notes = []
    saturated = False
    if busiest is None:
        text = 'unknown (no container samples)'
    else:
        cpu = busiest['cpu_peak_percent']
        service = busiest['service']
        host_cpus = hosts.get(busiest['host'], {}).get('cpus')
        host_busy = any(_host_busy(info) for info in hosts.values())
        if cpu < 50.0 and not host_busy:
            text = 'none evident (the busiest, %s, peaked at %.0f%% CPU)' % (busiest['name'], cpu)
        elif service == django_service:
            limit = min(django_workers, host_cpus) if host_cpus else django_workers
            if cpu >= 80.0 * max(limit, 1):
                saturated = True
                text = 'gunicorn workers saturated (%s at %.0f%% CPU; %d workers, %s CPUs)' % (
                    busiest['name'], cpu, django_workers, host_cpus or '?')
            else:
                text = 'django (%s at %.0f%% CPU, below its %d workers / %s CPUs)' % (
                    busiest['name'], cpu, django_workers, host_cpus or '?')
        elif service == db_service:
            text = 'the database (%s at %.0f%% CPU)' % (busiest['name'], cpu)
        elif service == nginx_service:
            text = 'nginx (%s at %.0f%% CPU)' % (busiest['name'], cpu)
        else:
            text = '%s (%s at %.0f%% CPU)' % (service or busiest['name'], busiest['name'], cpu)
        saturated = saturated or (service != django_service and cpu >= 80.0)
    for host in sorted(hosts):
        info = hosts[host]
        if _host_busy(info):
            saturated = True
            notes.append('host CPUs saturated on %s (%.0f%% of %d00%%%s)' % (
                host, _host_cpu(info), info['cpus'], '' if info.get('host_cpu_peak_percent') is not None else ', containers only'))
    if generator_saturated:
        notes.append('load generator CPU-bound (%s; the achieved rate and latency may be its limit)' % (
            'Locust at %.0f%% of one core' % generator_cpu_percent if generator_cpu_percent is not None else 'Locust warned'))
    elif slo_broken and busiest is not None and not saturated:
        notes.append('no container or host CPU saturated: look outside the containers (load generator%s, network path, '
                     'the machine)' % (' at %.0f%% of one core' % generator_cpu_percent if generator_cpu_percent is not None else ''))
    if notes:
        text = '%s; %s' % (text, '; '.join(notes))
    short = None if busiest is None else dict((k, busiest[k]) for k in ('host', 'name', 'service', 'cpu_peak_percent'))
    return short, text


def generator_cpu_percent(log, wall):
    """Locust's CPU in % of one core: the children's times of the role's `sh -c '...; times'` over the wall time."""
    matches = _TIMES.findall(log or '')
    match = re.match(r'^(\d+):(\d+):([0-9.]+)$', str(wall or '').strip())
    if not matches or not match:
        return None
    seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))
    user_min, user_sec, sys_min, sys_sec = matches[-1]
    cpu = int(user_min) * 60 + float(user_sec) + int(sys_min) * 60 + float(sys_sec)
    return round(100.0 * cpu / seconds, 1) if seconds > 0 else None


def judge_step(step, slo_p95_ms, slo_error_rate, min_achieved_ratio, **naming):
    """The figures and verdict of one step (a dict with rate, duration, users, csv_prefix, rc, log, samples)."""
    rate = float(step['rate'])
    result = {
        'rate': rate,
        'duration': step['duration'],
        'users': step.get('users'),
        'locust_rc': step.get('rc', 0),
        'csv_prefix': step['csv_prefix'],
        'error': None,
    }
    try:
        routes, totals = read_locust_run(step['csv_prefix'])
    except ReportError as exc:
        routes, totals = [], None
        result['error'] = 'Locust exited %s: %s' % (step.get('rc'), exc)
    if totals is None:
        totals = {'requests': 0, 'failures': 0, 'error_rate': 0.0, 'rps': 0.0, 'p50': None, 'p95': None,
                  'p99': None, 'avg': None, 'max': None, 'failures_by_kind': {}, 'failures_by_class': by_class({}),
                  'locustfile_errors': 0}
    elif step.get('rc') not in (0, None):
        result['error'] = 'Locust exited %s%s' % (step['rc'], ' (timed out)' if step['rc'] == 124 else '')
    totals['target_rps'] = rate
    totals['achieved_ratio'] = round(totals['rps'] / rate, 3) if rate else None
    generator_cpu = generator_cpu_percent(step.get('log'), step.get('wall'))
    generator_saturated = bool(_CPU_WARNING.search(step.get('log') or '')) or (generator_cpu or 0) >= 80.0
    containers, hosts = container_peaks(step.get('samples') or {}, naming.get('project', ''))
    reasons = []
    if result['error']:
        reasons.append(result['error'])
    if totals['requests'] == 0 and not result['error']:
        reasons.append('no request was made')
    if totals['p95'] is not None and totals['p95'] > slo_p95_ms:
        reasons.append('p95 %.0f ms > %.0f ms' % (totals['p95'], slo_p95_ms))
    if totals['error_rate'] > slo_error_rate:
        reasons.append('failures %.2f%% > %.2f%%' % (100 * totals['error_rate'], 100 * slo_error_rate))
    slo_ok = not reasons
    if rate and totals['rps'] < min_achieved_ratio * rate:
        reasons.append('achieved %.1f req/s < %.0f%% of %.1f' % (totals['rps'], 100 * min_achieved_ratio, rate))
    busiest, bottleneck = name_bottleneck(containers, hosts, generator_saturated=generator_saturated,
                                          generator_cpu_percent=generator_cpu, slo_broken=bool(reasons),
                                          **dict((k, v) for k, v in naming.items() if k != 'project'))
    result.update({
        'totals': totals,
        'routes': routes,
        'containers': containers,
        'hosts': hosts,
        'busiest_container': busiest,
        'bottleneck': bottleneck,
        'load_generator_saturated': generator_saturated,
        'load_generator_cpu_percent': generator_cpu,
        'slo_ok': slo_ok,
        'held': not reasons,
        'reasons': reasons,
    })
    return result


def summarize(params, steps):
    """summary.json's content from the module's parameters and the judged steps."""
    mode = params['mode']
    last = steps[-1] if steps else None
    summary = {
        'schema': 1,
        'mode': mode,
        'target_url': params['target_url'],
        'runner': params['runner'],
        'keepalive': params['keepalive'],
        'started': params['started'],
        'finished': params['finished'],
        'report_dir': params['report_dir'],
        'slo': {'p95_ms': params['slo_p95_ms'], 'error_rate': params['slo_error_rate'],
                'min_achieved_ratio': params['min_achieved_ratio']},
        'configured_routes': params['routes'],
        'rate': last['rate'] if last else None,
        'duration': last['duration'] if last else None,
        'users': last['users'] if last else None,
        'totals': last['totals'] if last else None,
        'routes': last['routes'] if last else [],
        'containers': last['containers'] if last else [],
        'busiest_container': last['busiest_container'] if last else None,
        'bottleneck': last['bottleneck'] if last else None,
        'load_generator_saturated': bool(last and last['load_generator_saturated']),
        'load_generator_cpu_percent': last['load_generator_cpu_percent'] if last else None,
        'error': params['error'] or (last['error'] if last else None) or None,
        'steps': steps,
    }
    if mode == 'steady':
        summary['slo_ok'] = bool(last and last['slo_ok'])
        summary['status'] = 'error' if summary['error'] else 'running' if params['running'] or not last else \
            'passed' if summary['slo_ok'] else 'slo_failed'
        summary['achieved_below_target'] = bool(last and last['totals']['rps'] < params['min_achieved_ratio'] * last['rate'])
    else:
        first_broken = next((index for index, step in enumerate(steps) if not step['held']), len(steps))
        peak = steps[first_broken - 1] if first_broken else None
        broken = steps[first_broken] if first_broken < len(steps) else None
        summary['slo_ok'] = None
        summary['peak_rate'] = peak['rate'] if peak else None
        summary['peak_achieved_rps'] = peak['totals']['rps'] if peak else None
        summary['broke_at'] = None if broken is None else {
            'rate': broken['rate'], 'reasons': broken['reasons'], 'bottleneck': broken['bottleneck'],
            'busiest_container': broken['busiest_container']}
        summary['status'] = 'error' if params['error'] else 'running' if params['running'] and broken is None else 'completed'
    return summary


def _ms(value):
    return '-' if value is None else '%.0f' % value


def _kinds_text(kinds):
    return ', '.join('%s x%d' % (kind.replace('_', ' '), count) for kind, count in sorted(kinds.items(), key=lambda i: -i[1]))


def route_table(routes, totals):
    lines = ['  %-16s %8s %8s %7s %7s %7s  %s' % ('route', 'requests', 'req/s', 'p50', 'p95', 'p99', 'failures')]
    rows = [(r['name'], r) for r in routes] + [('TOTAL', totals)]
    for name, entry in rows:
        failures = '%d' % entry['failures']
        if entry['failures']:
            failures += ' (%.2f%%): %s' % (100.0 * entry['error_rate'], _kinds_text(entry.get('failures_by_kind', {})))
        lines.append('  %-16s %8d %8.1f %7s %7s %7s  %s' % (
            name[:16], entry['requests'], entry['rps'], _ms(entry['p50']), _ms(entry['p95']), _ms(entry['p99']), failures))
    return lines


def container_table(containers, limit=10):
    lines = ['  %-12s %-40s %-14s %9s %9s  %s' % ('host', 'container', 'service', 'CPU peak', 'CPU avg', 'memory peak / limit')]
    for item in containers[:limit]:
        lines.append('  %-12s %-40s %-14s %8.1f%% %8.1f%%  %s / %s' % (
            item['host'][:12], item['name'][:40], item['service'][:14], item['cpu_peak_percent'], item['cpu_avg_percent'],
            human_bytes(item['mem_peak_bytes']), human_bytes(item['mem_limit_bytes'])))
    if len(containers) > limit:
        lines.append('  ... %d more in summary.json' % (len(containers) - limit))
    return lines


def report_lines(summary):
    """The human report (report.txt and the play's output)."""
    slo = summary['slo']
    connection = 'connections reused' if summary['keepalive'] else 'a new TCP+TLS connection per request'
    lines = []
    if not summary['steps']:
        lines.append('Load test (%s): %s, no step has run yet, %s, from %s' % (
            summary['mode'], summary['target_url'], connection, summary['runner']))
    elif summary['mode'] == 'steady':
        lines.append('Load test (steady): %s at %s req/s for %s s, %s, from %s' % (
            summary['target_url'], summary['rate'], summary['duration'], connection, summary['runner']))
    else:
        lines.append('Load test (capacity): %s, %d step(s), %s, from %s' % (
            summary['target_url'], len(summary['steps']), connection, summary['runner']))
    lines.append('report: %s' % summary['report_dir'])
    if summary['error']:
        lines.append('ERROR: %s' % summary['error'])
    if summary['mode'] == 'capacity' and summary['steps']:
        lines.append('')
        lines.append('  %-5s %8s %9s %7s %8s  %-34s %s' % ('step', 'target', 'achieved', 'p95', 'failures', 'busiest (CPU peak)', 'verdict'))
        for index, step in enumerate(summary['steps'], 1):
            busiest = step['busiest_container']
            lines.append('  %-5d %8.1f %9.1f %7s %7.2f%%  %-34s %s' % (
                index, step['rate'], step['totals']['rps'], _ms(step['totals']['p95']), 100.0 * step['totals']['error_rate'],
                ('%s %.0f%%' % (busiest['service'] or busiest['name'], busiest['cpu_peak_percent']))[:34] if busiest else '-',
                'held' if step['held'] else 'broke: ' + '; '.join(step['reasons'])))
        lines.append('')
        if summary['peak_rate'] is not None:
            lines.append('Capacity: the service level (p95 <= %.0f ms, failures <= %.2f%%, >= %.0f%% of the target rate) held up to %s req/s '
                         '(achieved %.1f req/s).' % (slo['p95_ms'], 100 * slo['error_rate'], 100 * slo['min_achieved_ratio'],
                                                     summary['peak_rate'], summary['peak_achieved_rps']))
        else:
            lines.append('Capacity: the service level did not hold at any step.')
        if summary['broke_at']:
            lines.append('It broke at %s req/s: %s.' % (summary['broke_at']['rate'], '; '.join(summary['broke_at']['reasons'])))
        else:
            lines.append('It did not break up to the highest step.')
        lines.append('Details of the last step (%s req/s):' % summary['rate'])
    if summary['totals'] is not None:
        totals = summary['totals']
        lines.append('')
        lines.extend(route_table(summary['routes'], totals))
        lines.append('')
        lines.append('Rate: target %.1f req/s, achieved %.1f req/s (%.0f%%)%s' % (
            totals['target_rps'], totals['rps'], 100.0 * (totals['achieved_ratio'] or 0),
            '' if (totals['achieved_ratio'] or 0) >= slo['min_achieved_ratio'] else ': BELOW the target'))
        if totals.get('locustfile_errors'):
            lines.append('Locustfile errors (exceptions in tasks): %d, see the *_exceptions.csv' % totals['locustfile_errors'])
        if summary['mode'] == 'steady':
            p95_ok = totals['p95'] is None or totals['p95'] <= slo['p95_ms']
            errors_ok = totals['error_rate'] <= slo['error_rate']
            lines.append('SLO: p95 %s ms <= %.0f ms: %s; failures %.2f%% <= %.2f%%: %s' % (
                _ms(totals['p95']), slo['p95_ms'], 'ok' if p95_ok else 'BROKEN', 100.0 * totals['error_rate'],
                100.0 * slo['error_rate'], 'ok' if errors_ok else 'BROKEN'))
    lines.append('')
    if summary['containers']:
        lines.append('Containers while the load ran:')
        lines.extend(container_table(summary['containers']))
    else:
        lines.append('Containers: no samples')
    last_hosts = summary['steps'][-1]['hosts'] if summary['steps'] else {}
    for host in sorted(last_hosts):
        info = last_hosts[host]
        lines.append('Host %s: %s CPUs; containers together peaked at %.0f%%%s' % (
            host, info['cpus'] or '?', info['cpu_peak_percent'],
            '' if info.get('host_cpu_peak_percent') is None else ', the whole host at %.0f%%' % info['host_cpu_peak_percent']))
    if summary['busiest_container']:
        busiest = summary['busiest_container']
        lines.append('Busiest: %s on %s (%.0f%% CPU peak)' % (busiest['name'], busiest['host'], busiest['cpu_peak_percent']))
    if summary['load_generator_cpu_percent'] is not None:
        lines.append('Load generator: Locust used %.0f%% of one core' % summary['load_generator_cpu_percent'])
    lines.append('Bottleneck: %s' % (summary['bottleneck'] or 'unknown'))
    lines.append('Result: %s' % summary['status'])
    return lines


def write_atomic(path, text):
    """Write text to path unless it holds it already; whether it changed."""
    if os.path.exists(path):
        with open(path, encoding='utf-8') as handle:
            if handle.read() == text:
                return False
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            report_dir=dict(type='path', required=True),
            mode=dict(type='str', default='steady', choices=['steady', 'capacity']),
            target_url=dict(type='str', required=True),
            steps=dict(type='list', elements='dict', default=[], options=dict(
                rate=dict(type='float', required=True),
                duration=dict(type='int', required=True),
                users=dict(type='int'),
                csv_prefix=dict(type='path', required=True),
                rc=dict(type='int', default=0),
                log=dict(type='str', default=''),
                wall=dict(type='str', default=''),
                samples=dict(type='dict', default={}),
            )),
            routes=dict(type='list', elements='dict', default=[]),
            keepalive=dict(type='bool', default=False),
            runner=dict(type='str', default='controller'),
            slo_p95_ms=dict(type='float', default=500),
            slo_error_rate=dict(type='float', default=0.01),
            min_achieved_ratio=dict(type='float', default=0.9),
            project=dict(type='str', default=''),
            django_service=dict(type='str', default='django'),
            django_workers=dict(type='int', default=3),
            db_service=dict(type='str', default='db'),
            nginx_service=dict(type='str', default='nginx'),
            started=dict(type='str', default=''),
            finished=dict(type='str', default=''),
            error=dict(type='str', default=''),
            running=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    for option in ('slo_p95_ms', 'slo_error_rate', 'min_achieved_ratio'):
        if params[option] < 0:
            module.fail_json(msg='Error validating option %s: must not be negative' % option)
    for index, step in enumerate(params['steps'], 1):
        if step['rate'] <= 0 or step['duration'] <= 0:
            module.fail_json(msg='Error validating step %d: rate and duration must be greater than 0' % index)
    if not os.path.isdir(params['report_dir']):
        module.fail_json(msg='Error writing report %s: not a directory' % params['report_dir'])
    naming = dict(project=params['project'], django_service=params['django_service'], django_workers=params['django_workers'],
                  db_service=params['db_service'], nginx_service=params['nginx_service'])
    try:
        steps = [judge_step(step, params['slo_p95_ms'], params['slo_error_rate'], params['min_achieved_ratio'], **naming)
                 for step in params['steps']]
        summary = summarize(params, steps)
        lines = report_lines(summary)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Error reading load test results in %s: %s: %s' % (params['report_dir'], type(exc).__name__, exc),
                         exception=traceback.format_exc())
    changed = False
    files = {'summary.json': json.dumps(summary, indent=2, sort_keys=True) + '\n', 'report.txt': '\n'.join(lines) + '\n'}
    for name in sorted(files):
        path = os.path.join(params['report_dir'], name)
        if module.check_mode:
            changed = changed or not os.path.exists(path)
            continue
        try:
            changed = write_atomic(path, files[name]) or changed
        except OSError as exc:
            module.fail_json(msg='Error writing report %s: %s' % (path, exc))
    stop = params['mode'] == 'capacity' and bool(steps) and not steps[-1]['held']
    slo_ok = summary['slo_ok'] if params['mode'] == 'steady' else True
    module.exit_json(changed=changed, summary=summary, report_lines=lines, slo_ok=bool(slo_ok), stop=stop)


if __name__ == '__main__':
    main()
