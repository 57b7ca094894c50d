"""Benchmark the streamed CSV export against PostgreSQL's own COPY of the same rows.

    DATABASE_URL=postgres://…/portal_audit_bench python manage.py migrate
    DATABASE_URL=postgres://…/portal_audit_bench python manage.py seed_scale
    DATABASE_URL=postgres://…/portal_audit_bench python manage.py bench_export --kind obligations

The export runs through the whole stack (the Django test client, signed in as an auditor:
middleware, permissions, the view, the selector's chunked iterator, CSV writing, hashing,
the export log) and its body is read and thrown away as a client would. The physical limit
is `COPY (the export's own SELECT) TO STDOUT WITH CSV`, read the same way. Peak memory is
the process's maximum resident set size, measured in a fresh process for each side.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse

from attestations import audit


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Time the streamed CSV export against PostgreSQL's COPY of the same rows."

    def add_arguments(self, parser):
        parser.add_argument("--kind", default="obligations", choices=[k for k in audit.EXPORTS if k != "history"])
        parser.add_argument("--side", choices=["portal", "copy"], help="Internal: run one side only and print JSON.")

    def handle(self, *args, kind: str, side: str | None, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_export compares with PostgreSQL's COPY: point DATABASE_URL at PostgreSQL.")
        if side:
            result = self._portal(kind) if side == "portal" else self._copy(kind)
            result["peak_mb"] = _peak_mb()
            self.stdout.write(json.dumps(result))
            return
        # Each side in its own process, so one's memory does not count against the other.
        runs = {}
        for name in ("copy", "portal"):
            out = subprocess.run(  # noqa: S603 - our own command, fixed arguments
                [sys.executable, "manage.py", "bench_export", "--kind", kind, "--side", name],
                capture_output=True, text=True, check=True,
            ).stdout
            runs[name] = json.loads(out.strip().splitlines()[-1])
        portal, copy = runs["portal"], runs["copy"]
        if portal["rows"] != copy["rows"]:
            raise CommandError(f"Row counts differ: portal {portal['rows']}, COPY {copy['rows']}")
        w = self.stdout.write
        w(f"Export '{kind}': {portal['rows']:,} rows")
        for name, r in (("COPY … TO STDOUT (limit)", copy), ("portal CSV export", portal)):
            w(
                f"  {name:<26} {r['seconds']:7.2f} s  {r['rows'] / r['seconds']:>10,.0f} rows/s  "
                f"{r['bytes'] / 1e6:8.1f} MB  peak RSS {r['peak_mb']:6.1f} MB"
            )
        ratio = (portal["rows"] / portal["seconds"]) / (copy["rows"] / copy["seconds"])
        w(f"  speed ratio portal/COPY: {ratio:.2f} (target >= 0.50)")
        w(f"  portal peak RSS {portal['peak_mb']:.0f} MB (target < 200)")

    def _portal(self, kind: str) -> dict:
        if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        auditor = get_user_model().objects.filter(groups__name="Auditor", is_active=True).order_by("pk").first()
        if auditor is None:
            raise CommandError("No auditor: run `manage.py seed_scale` on this database first.")
        client = Client()
        client.force_login(auditor)
        started = time.perf_counter()
        response = client.get(reverse("audit:export", args=[kind, "csv"]))
        size = lines = 0
        for piece in response.streaming_content:
            size += len(piece)
            lines += piece.count(b"\n")
        seconds = time.perf_counter() - started
        return {"rows": lines - 1, "bytes": size, "seconds": seconds}

    def _copy(self, kind: str) -> dict:
        sql, params = audit.EXPORTS[kind].sql(audit.Filters())
        connection.ensure_connection()
        raw = connection.connection
        query = psycopg.ClientCursor(raw).mogrify(sql, params)
        started = time.perf_counter()
        size = lines = 0
        with raw.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            for block in copy:
                size += len(block)
                lines += bytes(block).count(b"\n")
        seconds = time.perf_counter() - started
        return {"rows": lines - 1, "bytes": size, "seconds": seconds}
