"""Settings common to every environment, and the helpers that read the
environment. Nothing here needs a secret, a database or Redis."""
import os
import urllib.parse
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


# --- reading the environment --------------------------------------------------
def env(name, default=None):
    """The variable's value, or default when it is unset or empty."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def required(name, hint=""):
    value = os.environ.get(name, "")
    if value.strip() == "":
        raise ImproperlyConfigured(
            "%s is required but not set%s" % (name, (": " + hint) if hint else ""))
    return value


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured("%s must be true or false, not %r" % (name, value))


def env_int(name, default):
    value = env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured("%s must be an integer, not %r" % (name, value)) from None


def env_list(name, default=()):
    value = env(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_database_url(url, name="DATABASE_URL"):
    """postgres://user:password@host:port/dbname?option=value -> DATABASES entry.

    User and password are percent-decoded, so any character can be used
    in them once URL-encoded.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured(
            "%s must look like postgres://user:password@host:5432/dbname (scheme %r)"
            % (name, parts.scheme))
    try:
        port = parts.port or 5432
    except ValueError:
        raise ImproperlyConfigured("%s has an invalid port" % name) from None
    db_name = urllib.parse.unquote(parts.path.lstrip("/"))
    if not parts.hostname or not db_name:
        raise ImproperlyConfigured(
            "%s must name a host and a database: postgres://user:password@host:5432/dbname" % name)
    options = {"connect_timeout": 5}
    for key, value in urllib.parse.parse_qsl(parts.query):
        options[key] = value
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db_name,
        "USER": urllib.parse.unquote(parts.username or ""),
        "PASSWORD": urllib.parse.unquote(parts.password or ""),
        "HOST": parts.hostname,
        "PORT": str(port),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


# --- the application ------------------------------------------------------------
APP_VERSION = env("APP_VERSION", "dev")

DEBUG = False

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "payments",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from STATIC_ROOT when a request reaches Django directly
    # (cookiecutter-django's set-up); behind nginx, nginx serves them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "myproject.urls"
WSGI_APPLICATION = "myproject.wsgi.application"
ASGI_APPLICATION = "myproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- static and media files ---------------------------------------------------
# The image moves the source's static/ to static-src/ and collects it, with
# the admin's files, into STATIC_ROOT (/app/static), which nginx serves.
STATIC_URL = "/static/"
STATIC_ROOT = env("DJANGO_STATIC_ROOT", "/app/static")
STATICFILES_DIRS = [
    path for path in (BASE_DIR / "static-src", BASE_DIR / "static")
    if path.is_dir() and str(path) != STATIC_ROOT
][:1]

# Uploads go to a volume on /app/media (served by nginx under /media/).
MEDIA_URL = "/media/"
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", "/app/media")
# Larger uploads are spooled to /tmp (a tmpfs when the root is read-only).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
UPLOAD_MAX_BYTES = 5 * 1024 * 1024

# Prometheus: no database query when the app starts.
PROMETHEUS_EXPORT_MIGRATIONS = False
