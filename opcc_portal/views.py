"""Portal-wide pages: the home page and the health checks."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from attestations import selectors
from attestations import views as attestation_views

from .celery import app as celery_app

# "My clear-downs" is the home page: what most people come to the portal for.
home = attestation_views.my_clear_downs

# The probe query gives up after this long on a database that answers the connection but
# not the query (the connection itself is bounded by DATABASE_CONNECT_TIMEOUT).
_PROBE_TIMEOUT = "2s"


def _select_one(cursor) -> bool:
    cursor.execute("SELECT 1")
    return cursor.fetchone() == (1,)


def _database_ok() -> bool:
    try:
        if connection.vendor != "postgresql":
            # No transaction on SQLite: the portal's are IMMEDIATE, and a probe must not
            # take the write lock.
            with connection.cursor() as cursor:
                return _select_one(cursor)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = '{_PROBE_TIMEOUT}'")
            return _select_one(cursor)
    except Exception:
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def _word(ok: bool) -> str:
    return "ok" if ok else "down"


@never_cache
@require_safe
def healthz(request):
    """Liveness, for a load balancer: 503 only when this web process cannot serve, which is
    when the database cannot be reached (within DATABASE_CONNECT_TIMEOUT seconds).

    The broker is reported but does not fail it: pages and attestations work without the
    broker (emails wait and a later sweep queues them), and a Redis outage must not take
    every web node out of the load balancer. Details for monitoring: `/healthz/status`.
    """
    database = _database_ok()
    body = {"status": "ok" if database else "unavailable", "database": _word(database), "broker": _word(_broker_ok())}
    return JsonResponse(body, status=200 if database else 503)


def _freshness(seen: dt.datetime | None, every_minutes: int, now: dt.datetime) -> str:
    if seen is None:
        return "never seen"
    return "ok" if now - seen <= dt.timedelta(minutes=2 * every_minutes) else "stale"


@never_cache
@require_safe
def healthz_status(request):
    """Status for monitoring: database, broker, worker (its heartbeat) and beat (the last
    sweep), each stale after two of its intervals. 200 when all is well, else 503.

    Not for a load balancer: a stopped worker or beat is a job for an operator, not a reason
    to stop serving pages. Open unless HEALTH_STATUS_TOKEN is set (it names no person).
    """
    token = settings.HEALTH_STATUS_TOKEN
    if token and not constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return JsonResponse({"error": "Send the status token: Authorization: Bearer <token>."}, status=403)
    now = timezone.now()
    database = _database_ok()
    seen = selectors.heartbeats() if database else {}
    worker, sweep = seen.get("worker"), seen.get("sweep")
    body = {
        "database": _word(database),
        "broker": _word(_broker_ok()),
        "worker": {
            "status": _freshness(worker, settings.HEARTBEAT_MINUTES, now) if database else "unknown",
            "last_seen": worker.isoformat() if worker else None,
        },
        "beat": {
            "status": _freshness(sweep, settings.SWEEP_MINUTES, now) if database else "unknown",
            "last_sweep": sweep.isoformat() if sweep else None,
        },
    }
    healthy = body["database"] == body["broker"] == body["worker"]["status"] == body["beat"]["status"] == "ok"
    return JsonResponse({"status": "ok" if healthy else "degraded", **body}, status=200 if healthy else 503)
