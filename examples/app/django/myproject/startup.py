"""Start-up checks run by entrypoint.sh before the real process.

    python3 -m myproject.startup check        load the settings (config errors)
    python3 -m myproject.startup wait-db      ... and wait for the database

Loading the settings first turns a missing variable into one clear line
instead of a traceback. The database wait tries every second for
DJANGO_DB_WAIT_SECONDS (default 60), then gives up with exit status 1.
"""
import os
import sys
import time


def fail(message):
    print("entrypoint: %s" % message, file=sys.stderr, flush=True)
    sys.exit(1)


def load_settings():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings.prod")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        fail("configuration error: %s" % exc)


def wait_db():
    from django.db import connection

    raw = os.environ.get("DJANGO_DB_WAIT_SECONDS", "") or "60"
    try:
        limit = float(raw)
    except ValueError:
        fail("DJANGO_DB_WAIT_SECONDS must be a number of seconds, not %r" % raw)
    settings_dict = connection.settings_dict
    where = "%s:%s/%s" % (settings_dict["HOST"], settings_dict["PORT"], settings_dict["NAME"])
    deadline = time.monotonic() + limit
    attempt = 0
    while True:
        attempt += 1
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            connection.close()
            if attempt > 1:
                print("entrypoint: database %s is up" % where, file=sys.stderr, flush=True)
            return
        except Exception as exc:
            last = " ".join(str(exc).split()) or type(exc).__name__
            try:
                connection.close()
            except Exception:
                pass
        if time.monotonic() >= deadline:
            fail("database %s (DATABASE_URL) not reachable after %.0f s (DJANGO_DB_WAIT_SECONDS): %s"
                 % (where, limit, last))
        if attempt == 1:
            print("entrypoint: waiting up to %.0f s for database %s: %s" % (limit, where, last),
                  file=sys.stderr, flush=True)
        time.sleep(1)


def main(argv):
    if len(argv) != 1 or argv[0] not in ("check", "wait-db"):
        fail("usage: python3 -m myproject.startup check|wait-db")
    load_settings()
    if argv[0] == "wait-db":
        wait_db()


if __name__ == "__main__":
    main(sys.argv[1:])
