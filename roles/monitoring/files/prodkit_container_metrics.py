# Copyright (c) prodkit.stack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the state of every Compose container as Prometheus textfile metrics.

node-exporter's textfile collector publishes the file; the alert rules
ContainerDown, ContainerUnhealthy and ContainerRestarting read it. This works
without cAdvisor, and it sees what cAdvisor does not: Docker's health status
and restart count.

  prodkit_container_running{project,service,container}        1 running, 0 not
  prodkit_container_health_status{...,status}                   1 for the current status
  prodkit_container_restart_count{project,service,container}   Docker's RestartCount
  prodkit_container_metrics_last_run_timestamp_seconds

One-off containers (`docker compose run`) are left out. A container removed
between `docker ps` and `docker inspect` is left out too (it is gone). The
file is written to a temporary name and renamed, so node-exporter never reads
half of it; when Docker fails or does not answer within --timeout seconds,
the program exits 1 and the previous file stays (its timestamp then ages and
ContainerMetricsStale fires).

prodkit.stack.monitoring installs it as /usr/local/sbin/prodkit-container-metrics
(with a #!/usr/bin/python3 line) and runs it from prodkit-container-metrics.timer.
Unit tests: tests/unit/monitoring/test_container_metrics.py (a fake docker).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

STATUSES = ("healthy", "unhealthy", "starting", "none")

# What docker inspect says on stderr about an id that no longer exists.
GONE_MARKERS = ("no such object", "no such container")


class DockerError(Exception):
    """Docker failed or did not answer: nothing is written."""


def docker(args, timeout):
    """Run docker with args; return the CompletedProcess (any exit status)."""
    try:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DockerError("docker %s did not answer within %g s" % (args[0], timeout)) from exc
    except OSError as exc:
        raise DockerError("cannot run docker: %s" % exc) from exc


def container_ids(timeout):
    proc = docker(["ps", "--all", "--quiet", "--no-trunc", "--filter", "label=com.docker.compose.project"], timeout)
    if proc.returncode != 0:
        raise DockerError("docker ps: %s" % (proc.stderr.strip() or "exit %d" % proc.returncode))
    return proc.stdout.split()


def only_gone(stderr):
    """True when every error line of docker inspect is about a removed container."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return bool(lines) and all(any(marker in line.lower() for marker in GONE_MARKERS) for line in lines)


def inspect(ids, timeout):
    """docker inspect of ids; a container removed meanwhile is left out."""
    if not ids:
        return []
    proc = docker(["inspect", *ids], timeout)
    if proc.returncode != 0 and not only_gone(proc.stderr):
        raise DockerError("docker inspect: %s" % (proc.stderr.strip() or "exit %d" % proc.returncode))
    try:
        items = json.loads(proc.stdout or "[]")
    except ValueError as exc:
        raise DockerError("docker inspect printed no JSON: %s" % exc) from exc
    if not isinstance(items, list):
        raise DockerError("docker inspect printed %s, not a list" % type(items).__name__)
    return items


def containers(timeout=30.0):
    return inspect(container_ids(timeout), timeout)


def escape(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(items, now):
    lines = [
        "# HELP prodkit_container_running Whether the Compose container runs (1) or not"
        " (0: exited, dead, paused, restarting).",
        "# TYPE prodkit_container_running gauge",
    ]
    health, restarts = [], []
    for item in sorted(items, key=lambda c: c["Name"]):
        labels = item["Config"].get("Labels") or {}
        if labels.get("com.docker.compose.oneoff", "False") == "True":
            continue
        state = item["State"]
        base = 'project="%s",service="%s",container="%s"' % (
            escape(labels.get("com.docker.compose.project", "")),
            escape(labels.get("com.docker.compose.service", "")),
            escape(item["Name"].lstrip("/")),
        )
        running = 1 if state.get("Running") and not state.get("Paused") and not state.get("Restarting") else 0
        lines.append("prodkit_container_running{%s} %d" % (base, running))
        current = (state.get("Health") or {}).get("Status", "none")
        for status in STATUSES:
            health.append('prodkit_container_health_status{%s,status="%s"} %d' % (base, status, status == current))
        restarts.append("prodkit_container_restart_count{%s} %d" % (base, item.get("RestartCount", 0)))
    lines += [
        "# HELP prodkit_container_health_status Docker healthcheck status of the container (1 for the current one).",
        "# TYPE prodkit_container_health_status gauge",
        *health,
        "# HELP prodkit_container_restart_count Times Docker restarted the container (resets when it is recreated).",
        "# TYPE prodkit_container_restart_count gauge",
        *restarts,
        "# HELP prodkit_container_metrics_last_run_timestamp_seconds When these metrics were written.",
        "# TYPE prodkit_container_metrics_last_run_timestamp_seconds gauge",
        "prodkit_container_metrics_last_run_timestamp_seconds %d" % now,
    ]
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".prodkit_containers.", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="file to write (default: print)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for each docker command (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        items = containers(args.timeout)
        text = render(items, time.time())
    except (DockerError, KeyError, TypeError, AttributeError) as exc:
        print("prodkit-container-metrics: docker failed: %s" % exc, file=sys.stderr)
        return 1
    if not args.output:
        sys.stdout.write(text)
        return 0
    write_atomically(args.output, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
