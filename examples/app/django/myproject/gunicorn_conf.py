"""Gunicorn hooks (the options themselves are on entrypoint.sh's command line)."""


def child_exit(server, worker):
    # prometheus_client multiprocess mode: forget the metrics files of a
    # worker that exited (max-requests recycling, timeouts).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
