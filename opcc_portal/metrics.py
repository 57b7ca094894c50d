"""Metrics for a Prometheus scraper at /metrics, behind METRICS_TOKEN (404 while it is unset).

Two kinds of figure:

- per request, counted by the middleware in each web process: requests by view, method and
  status, and their latency (a histogram). With several gunicorn worker processes, set
  PROMETHEUS_MULTIPROC_DIR to an empty folder the workers share (gunicorn.conf.py clears the
  figures of a worker that exits) and each scrape adds up every process's figures; without
  it a scrape shows the one process that answered.
- read from the database at each scrape, so any web host answers for the whole portal:
  emails by status (pending, failed), open flags by kind, the last sweep and worker
  heartbeat, and the beat lag (how late the last sweep started after its scheduled tick).

Nothing here names a person: the labels are view names, methods, statuses and kinds.
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from attestations import selectors
from attestations.models import Flag, SentEmail

REQUESTS = Counter(
    "portal_http_requests",
    "Requests answered, by view, method and status.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer a request (to the first byte of a streamed download), by view.",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def request_metrics(get_response):
    def middleware(request):
        started = time.perf_counter()
        response = get_response(request)
        match = getattr(request, "resolver_match", None)
        # The view's name, never the path: paths hold ids and tokens, and would make a new
        # series for every record.
        view = (match.view_name if match else "") or "unmatched"
        REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        LATENCY.labels(view).observe(time.perf_counter() - started)
        return response

    return middleware


class PortalCollector:
    """The figures read from the database at each scrape."""

    def collect(self):
        try:
            figures = selectors.operations()
        except DatabaseError:
            # The scrape still answers, so the alert is "database down", not "scrape failed".
            yield GaugeMetricFamily("portal_database_up", "Whether the database answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("portal_database_up", "Whether the database answered this scrape.", value=1)
        emails = GaugeMetricFamily("portal_emails", "Emails recorded, by status.", labels=["status"])
        for status in SentEmail.Status.values:
            emails.add_metric([status], figures.emails.get(status, 0))
        yield emails
        flags = GaugeMetricFamily("portal_open_flags", "Flags raised and not yet resolved, by kind.", labels=["kind"])
        for kind in Flag.Kind.values:
            flags.add_metric([kind], figures.open_flags.get(kind, 0))
        yield flags
        for name, key, help_text in (
            ("portal_last_sweep_timestamp_seconds", "sweep", "When beat's sweep last finished (Unix time)."),
            (
                "portal_worker_last_seen_timestamp_seconds",
                "worker",
                "When a worker last ran the heartbeat (Unix time).",
            ),
        ):
            seen = figures.last_seen.get(key)
            if seen is not None:
                yield GaugeMetricFamily(name, help_text, value=seen.timestamp())
        if figures.last_sweep_slot is not None:
            lag = (figures.last_sweep_started - figures.last_sweep_slot).total_seconds()
            yield GaugeMetricFamily(
                "portal_beat_lag_seconds", "How late the last sweep started after its scheduled tick.", value=lag
            )


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:  # this process's own figures
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(PortalCollector())
    return registry


@never_cache
@require_safe
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off (METRICS_TOKEN is not set).")
    if not constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return HttpResponse("Send the metrics token: Authorization: Bearer <token>.\n", status=403)
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
