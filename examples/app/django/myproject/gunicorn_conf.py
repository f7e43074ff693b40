"""Gunicorn hooks (the options themselves are on entrypoint.sh's command line).

Imported by the gunicorn master at start: the import must happen here, not
inside the hook, which runs from a SIGCHLD handler.
"""
from prometheus_client import multiprocess


def child_exit(server, worker):
    # prometheus_client multiprocess mode: forget the metrics files of a
    # worker that exited (max-requests recycling, timeouts, shutdown).
    multiprocess.mark_process_dead(worker.pid)
