"""Show when celery beat's heartbeat task last ran (written by a worker).

    /app/entrypoint.sh manage beat_status [--max-age SECONDS]

Exits non-zero when it never ran, or (with --max-age) ran too long ago.
"""
import datetime
import time

from django.core.management.base import BaseCommand, CommandError
from django_redis import get_redis_connection

from payments.tasks import BEAT_COUNT_KEY, BEAT_LAST_KEY


class Command(BaseCommand):
    help = "Print the last time beat's heartbeat task ran and how many times it ran."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--max-age", type=float, default=0,
                            help="fail when the last heartbeat is older than this many seconds (0: never)")

    def handle(self, *args, **options):
        try:
            redis = get_redis_connection("default")
            last, count = redis.mget(BEAT_LAST_KEY, BEAT_COUNT_KEY)
        except Exception as exc:
            raise CommandError("beat status unknown: Redis: %s: %s" % (type(exc).__name__, exc))
        if last is None:
            raise CommandError("celery beat has not run yet: %s is not set "
                               "(are celery-beat and a worker running?)" % BEAT_LAST_KEY)
        last = float(last)
        age = time.time() - last
        when = datetime.datetime.fromtimestamp(last, datetime.timezone.utc).isoformat(timespec="seconds")
        self.stdout.write("beat last ran at %s (%.0f s ago), %d heartbeats in all"
                          % (when, age, int(count or 0)))
        if options["max_age"] and age > options["max_age"]:
            raise CommandError("the last beat is %.0f s old, more than --max-age %.0f"
                               % (age, options["max_age"]))
