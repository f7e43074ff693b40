"""Send add(2, 3) through the broker and wait for a worker's answer.

    /app/entrypoint.sh manage celery_roundtrip [--timeout 30]

Prints `celery roundtrip ok: 5`; exits non-zero when no worker answers in time.
"""
import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Send the task add(2, 3) and wait for its result (proves broker, worker and result backend)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30.0,
                            help="seconds to wait for the result (default 30)")

    def handle(self, *args, **options):
        from payments.tasks import add

        started = time.monotonic()
        try:
            result = add.delay(2, 3)
        except Exception as exc:
            raise CommandError("celery roundtrip failed: cannot send the task: %s: %s"
                               % (type(exc).__name__, exc))
        try:
            value = result.get(timeout=options["timeout"])
        except Exception as exc:
            raise CommandError(
                "celery roundtrip failed: no result for task %s within %.0f s (%s: %s); "
                "is a worker running and connected to the broker?"
                % (result.id, options["timeout"], type(exc).__name__, exc))
        if value != 5:
            raise CommandError("celery roundtrip failed: add(2, 3) returned %r" % (value,))
        self.stdout.write("celery roundtrip ok: %s (%.2f s, task %s)"
                          % (value, time.monotonic() - started, result.id))
