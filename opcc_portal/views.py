"""Portal-wide pages: the home page and the health check."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from attestations import views as attestation_views

from .celery import app as celery_app

# "My clear-downs" is the home page: what most people come to the portal for.
home = attestation_views.my_clear_downs


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


@never_cache
@require_safe
def healthz(request):
    """For load balancers and monitoring: 200 when the database and broker answer, else 503."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable", **{k: "ok" if v else "down" for k, v in checks.items()}}
    return JsonResponse(body, status=200 if healthy else 503)
