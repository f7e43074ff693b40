#!/bin/sh
# Entry point of the Django image. The first argument picks the process;
# each one is exec'd, so it is PID 1 and receives the container's signals.
#
#   gunicorn [ARGS]       web server on 0.0.0.0:8000 (the default command)
#   migrate               wait for the database, apply migrations, exit
#   celery-worker [ARGS]  Celery worker (SIGTERM: warm shutdown, tasks finish)
#   celery-beat [ARGS]    Celery beat, schedule in /tmp
#   flower [ARGS]         Flower on :5555 under /flower, basic auth required
#   manage ARGS...        python3 manage.py ARGS...
#   anything else         run as given (e.g. sh)
#
# Environment: see README.md (DJANGO_DB_WAIT_SECONDS, DJANGO_MIGRATE_ON_START,
# GUNICORN_*, CELERY_CONCURRENCY, FLOWER_BASIC_AUTH, LOG_LEVEL, ...).
set -eu

cd /app

log() {
    echo "entrypoint: $*" >&2
}

# Load the settings (a missing variable is one clear line) and wait for
# PostgreSQL for up to DJANGO_DB_WAIT_SECONDS.
check_config() {
    python3 -m myproject.startup check
}
wait_for_db() {
    python3 -m myproject.startup wait-db
}

run_gunicorn() {
    wait_for_db
    if [ "${DJANGO_MIGRATE_ON_START:-1}" = 1 ]; then
        python3 manage.py migrate --noinput
    fi
    worker_class=${GUNICORN_WORKER_CLASS:-sync}
    case "$worker_class" in
        sync)
            set -- --worker-class sync "$@" myproject.wsgi:application ;;
        gthread)
            set -- --worker-class gthread --threads "${GUNICORN_THREADS:-4}" "$@" myproject.wsgi:application ;;
        uvicorn)
            set -- --worker-class uvicorn.workers.UvicornWorker "$@" myproject.asgi:application ;;
        *)
            log "GUNICORN_WORKER_CLASS=$worker_class is not supported: use sync, gthread or uvicorn"
            exit 1 ;;
    esac
    # Metrics of all workers, summed by /metrics (prometheus_client's
    # multiprocess mode); a fresh directory at every start.
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc
    export PROMETHEUS_MULTIPROC_DIR
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    log "starting gunicorn ($worker_class, ${GUNICORN_WORKERS:-3} workers), release ${APP_VERSION:-unknown}"
    exec gunicorn \
        --config python:myproject.gunicorn_conf \
        --bind 0.0.0.0:8000 \
        --workers "${GUNICORN_WORKERS:-3}" \
        --timeout "${GUNICORN_TIMEOUT:-30}" \
        --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-30}" \
        --max-requests "${GUNICORN_MAX_REQUESTS:-1000}" \
        --max-requests-jitter "${GUNICORN_MAX_REQUESTS_JITTER:-100}" \
        --access-logfile - \
        --error-logfile - \
        --forwarded-allow-ips '*' \
        --worker-tmp-dir /dev/shm \
        "$@"
}

command=${1:-gunicorn}
[ "$#" -gt 0 ] && shift

case "$command" in
    gunicorn)
        run_gunicorn "$@" ;;
    migrate)
        wait_for_db
        exec python3 manage.py migrate --noinput "$@" ;;
    celery-worker)
        wait_for_db
        # SIGTERM is Celery's warm shutdown: running tasks finish first, so
        # the stop grace period must be longer than the longest task.
        exec python3 -m celery -A myproject worker -l "${LOG_LEVEL:-INFO}" \
            --concurrency "${CELERY_CONCURRENCY:-2}" "$@" ;;
    celery-beat)
        check_config
        exec python3 -m celery -A myproject beat -l "${LOG_LEVEL:-INFO}" \
            --schedule /tmp/celerybeat-schedule --pidfile= "$@" ;;
    flower)
        case "${FLOWER_BASIC_AUTH:-}" in
            ?*:?*) ;;
            *)
                log "FLOWER_BASIC_AUTH is required (user:password): Flower will not start without authentication"
                exit 1 ;;
        esac
        check_config
        # Flower reads FLOWER_BASIC_AUTH from the environment itself, which
        # keeps the password out of the process list.
        exec python3 -m celery -A myproject flower --address=0.0.0.0 --port=5555 \
            --url_prefix=flower "$@" ;;
    manage)
        exec python3 manage.py "$@" ;;
    *)
        exec "$command" "$@" ;;
esac
