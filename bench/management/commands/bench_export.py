"""Benchmark the streamed CSV export against PostgreSQL's own COPY of the same rows.

    DATABASE_URL=postgres://…/portal_audit_bench python manage.py migrate
    DATABASE_URL=postgres://…/portal_audit_bench python manage.py seed_scale
    DATABASE_URL=postgres://…/portal_audit_bench python manage.py bench_export --kind obligations

The export runs through the whole stack (the Django test client, signed in as an auditor:
middleware, permissions, the view, the export's COPY with its columns formatted in SQL on
PostgreSQL, CSV line endings, hashing, the export log) and its body is read and thrown away
as a client would. The physical limit is `COPY (the export's own SELECT, unformatted) TO
STDOUT WITH CSV`, read the same way. Peak memory is the process's maximum resident set
size, measured in a fresh process for each side. The sides alternate for `--runs` runs and
the medians are reported with the load average, since other work on the machine moves them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from statistics import median

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse

from attestations.audit import exports
from attestations.audit import history as audit


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Time the streamed CSV export against PostgreSQL's COPY of the same rows."

    def add_arguments(self, parser):
        parser.add_argument("--kind", default="obligations", choices=[k for k in audit.EXPORTS if k != "history"])
        parser.add_argument("--runs", type=int, default=5, help="Runs of each side; medians are reported.")
        parser.add_argument("--side", choices=["portal", "copy"], help="Internal: run one side only and print JSON.")

    def handle(self, *args, kind: str, runs: int, side: str | None, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_export compares with PostgreSQL's COPY: point DATABASE_URL at PostgreSQL.")
        if side:
            result = self._portal(kind) if side == "portal" else self._copy(kind)
            result["peak_mb"] = _peak_mb()
            self.stdout.write(json.dumps(result))
            return
        w = self.stdout.write
        load_before = os.getloadavg()
        results: dict[str, list[dict]] = {"copy": [], "portal": []}
        ratios = []
        for n in range(1, runs + 1):
            # Each side in its own process, so one's memory does not count against the other;
            # the sides alternate, so a burst of load elsewhere falls on both.
            for name in ("copy", "portal"):
                results[name].append(self._run_side(kind, name))
            copy, portal = results["copy"][-1], results["portal"][-1]
            if portal["rows"] != copy["rows"]:
                raise CommandError(f"Row counts differ: portal {portal['rows']}, COPY {copy['rows']}")
            ratios.append(portal["rate"] / copy["rate"])
            w(
                f"  run {n}: COPY {copy['rate']:>9,.0f} rows/s, portal {portal['rate']:>9,.0f} rows/s, "
                f"ratio {ratios[-1]:.2f}, portal peak RSS {portal['peak_mb']:.0f} MB"
            )
        load_after = os.getloadavg()
        w(f"Export '{kind}': {results['portal'][0]['rows']:,} rows, median of {runs} runs")
        for name, label in (("copy", "COPY … TO STDOUT (limit)"), ("portal", "portal CSV export")):
            r = results[name]
            w(
                f"  {label:<26} {median(x['seconds'] for x in r):7.2f} s  "
                f"{median(x['rate'] for x in r):>10,.0f} rows/s  {r[0]['bytes'] / 1e6:8.1f} MB  "
                f"peak RSS {max(x['peak_mb'] for x in r):6.1f} MB"
            )
        spread = f"runs {min(ratios):.2f}–{max(ratios):.2f}"
        w(f"  speed ratio portal/COPY: {median(ratios):.2f}, the median ({spread}; target >= 0.50)")
        peak = max(x["peak_mb"] for x in results["portal"])
        w(f"  portal peak RSS {peak:.0f} MB, the largest of the runs (target < 200)")
        w(f"  load average before {load_before[0]:.1f} / after {load_after[0]:.1f} (1 min) on {os.cpu_count()} CPUs")

    def _run_side(self, kind: str, name: str) -> dict:
        out = subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "manage.py", "bench_export", "--kind", kind, "--side", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        result["rate"] = result["rows"] / result["seconds"]
        return result

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
        statement = exports.copy_to_stdout(*audit.EXPORTS[kind].sql(audit.Filters()), header=True)
        started = time.perf_counter()
        size = lines = 0
        with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for block in copy:
                size += len(block)
                lines += bytes(block).count(b"\n")
        seconds = time.perf_counter() - started
        return {"rows": lines - 1, "bytes": size, "seconds": seconds}
