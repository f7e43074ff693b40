"""Production settings: everything that differs between sites comes from the
environment (the compose file's `environment:` and the project's .env).

A required variable that is missing stops the process at start with a
message naming it (ImproperlyConfigured).
"""
import sys
import urllib.parse

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import APP_VERSION, env, env_bool, env_int, env_list, parse_database_url, required

# --- core ---------------------------------------------------------------------
SECRET_KEY = required("DJANGO_SECRET_KEY", "a long random string, kept in the .env")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is required but not set: a comma-separated list of host names")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- PostgreSQL -----------------------------------------------------------------
DATABASES = {
    "default": parse_database_url(
        required("DATABASE_URL", "postgres://user:password@host:5432/dbname")),
}

# --- Redis: cache, Celery broker and results -----------------------------------------
REDIS_URL = required("REDIS_URL", "redis://:password@redis:6379/0")
if urllib.parse.urlsplit(REDIS_URL).scheme not in ("redis", "rediss"):
    raise ImproperlyConfigured("REDIS_URL must look like redis://:password@redis:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "myproject",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
        },
    },
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 5, "visibility_timeout": 3600}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 5
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
# A task is acknowledged once it has run: a worker that dies mid-task leaves
# it to be delivered again (tasks must be idempotent). One task at a time per
# process, so a warm shutdown has little to finish.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Events for Flower.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
# Beat: a heartbeat task every CELERY_BEAT_HEARTBEAT_SECONDS (beat's
# healthcheck expects a task sent within 3 periods).
CELERY_BEAT_HEARTBEAT_SECONDS = env_int("CELERY_BEAT_HEARTBEAT_SECONDS", 10)
if CELERY_BEAT_HEARTBEAT_SECONDS < 1:
    raise ImproperlyConfigured("CELERY_BEAT_HEARTBEAT_SECONDS must be at least 1")
CELERY_BEAT_SCHEDULE = {
    "beat-heartbeat": {
        "task": "payments.tasks.beat_heartbeat",
        "schedule": float(CELERY_BEAT_HEARTBEAT_SECONDS),
        "options": {"expires": float(CELERY_BEAT_HEARTBEAT_SECONDS)},
    },
}

# --- HTTPS behind the reverse proxy ---------------------------------------------
# nginx terminates TLS and sets X-Forwarded-Proto. Internal probes talk plain
# HTTP to /healthz and /metrics, which are never redirected.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", True)
# The edge (nginx) sends Strict-Transport-Security; 0 leaves it to the edge.
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
if not SECURE_HSTS_SECONDS:
    # `check --deploy` would warn about the header the edge already sends.
    SILENCED_SYSTEM_CHECKS = ["security.W004"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- email (SMTP) -------------------------------------------------------------------
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "webmaster@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- third parties ----------------------------------------------------------------------
RECAPTCHA_PUBLIC_KEY = env("RECAPTCHA_PUBLIC_KEY", "")
RECAPTCHA_PRIVATE_KEY = env("RECAPTCHA_PRIVATE_KEY", "")
NODE_API_URL = env("NODE_API_URL", "http://node-api:3001").rstrip("/")
NODE_INTERNAL_API_KEY = env("NODE_INTERNAL_API_KEY", "")

# --- logging: everything to stdout ---------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"},
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
    },
}

# --- Sentry: only with a DSN, and only if sentry_sdk is installed -------------------
SENTRY_DSN = env("SENTRY_DSN")
if SENTRY_DSN:
    try:
        import sentry_sdk
        from sentry_sdk.integrations.celery import CeleryIntegration
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError:
        print("settings: SENTRY_DSN is set but sentry_sdk is not installed; Sentry is off",
              file=sys.stderr)
    else:
        try:
            traces_sample_rate = float(env("SENTRY_TRACES_SAMPLE_RATE", "0"))
        except ValueError:
            raise ImproperlyConfigured("SENTRY_TRACES_SAMPLE_RATE must be a number from 0 to 1") from None
        try:
            sentry_sdk.init(
                dsn=SENTRY_DSN,
                release=APP_VERSION,
                environment=env("SENTRY_ENVIRONMENT", "production"),
                integrations=[DjangoIntegration(), CeleryIntegration()],
                traces_sample_rate=traces_sample_rate,
                send_default_pii=False,
            )
        except Exception as exc:  # BadDsn and friends
            raise ImproperlyConfigured("SENTRY_DSN is not a valid DSN: %s" % exc) from None
