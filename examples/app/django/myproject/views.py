"""Project-level views: the home page, the health endpoint and the small API."""
import json
import logging
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)


def _error_text(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    return ("%s: %s" % (type(exc).__name__, text))[:300]


def check_postgres():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # any failure is reported, not raised
        # Drop the broken connection so that the next request opens a new one.
        try:
            connection.close()
        except Exception:
            pass
        return _error_text(exc)


def check_redis():
    try:
        # The cache's connection pool, with its 2 s socket timeouts.
        get_redis_connection("default").ping()
        return "ok"
    except Exception as exc:
        return _error_text(exc)


@never_cache
@require_GET
def healthz(request):
    """200 with status ok when PostgreSQL and Redis answer, else 503."""
    checks = {"postgres": check_postgres(), "redis": check_redis()}
    healthy = all(value == "ok" for value in checks.values())
    if not healthy:
        logger.warning("healthz: %s", checks)
    return JsonResponse(
        {"status": "ok" if healthy else "error", "version": settings.APP_VERSION, "checks": checks},
        status=200 if healthy else 503,
    )


@require_GET
def index(request):
    return render(request, "payments/index.html", {"version": settings.APP_VERSION})


@never_cache
@require_GET
def api_ping(request):
    return JsonResponse({"pong": True, "version": settings.APP_VERSION, "time": time.time()})


# The longest wait /api/io accepts, in milliseconds.
IO_MAX_MS = 1000


@never_cache
@require_GET
def api_io(request):
    """An I/O-bound request, for capacity tests: it waits on PostgreSQL
    (pg_sleep) for ?ms= milliseconds (default 50, at most IO_MAX_MS) and
    spends almost no CPU, as a view that waits on a payment provider would.
    Compare gunicorn's sync and gthread workers with it."""
    try:
        ms = int(request.GET.get("ms", "50"))
    except ValueError:
        return JsonResponse({"error": "ms must be a whole number of milliseconds"}, status=400)
    ms = min(max(ms, 0), IO_MAX_MS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [ms / 1000.0])
    return JsonResponse({"waited_ms": ms, "version": settings.APP_VERSION})


@never_cache
@staff_member_required
@require_GET
def api_wallet_status(request):
    """The node-wallet service's view of its workers (Django -> node-api with the
    shared key); staff only."""
    req = urllib.request.Request(settings.NODE_API_URL + "/v1/status")
    if settings.NODE_INTERNAL_API_KEY:
        req.add_header("X-Internal-Api-Key", settings.NODE_INTERNAL_API_KEY)
    try:
        with urllib.request.urlopen(req, timeout=3) as response:
            return JsonResponse({"node_api": json.load(response)})
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return JsonResponse({"node_api": None, "error": _error_text(exc)}, status=502)
