"""Benchmark the subject access file against reading the same rows and doing nothing with them.

    DATABASE_URL=postgres://…/portal_bench python manage.py migrate
    DATABASE_URL=postgres://…/portal_bench python manage.py seed_scale
    DATABASE_URL=postgres://…/portal_bench python manage.py bench_subject_access

The file is taken through the whole stack (the Django test client signed in as the DPO:
middleware, permissions, the view, every kind's queries, CSV, the zip, hashing, the export
log) and its body read and thrown away as a client would. The baseline reads the same rows
from the same queries (every kind's function) and throws them away: the database's part,
without CSV, zip or HTTP. Each side runs in its own process, alternately, `--runs` times, for
the person with the most clear-downs (or `--username`); peak memory is the process's maximum
resident set size. Medians are printed with the load average, since other work moves them.
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
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from attestations.audit import subject_access
from attestations.models import ExportLog
from groups.permissions import DPO_ROLE


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Time one person's subject access file against reading its rows alone."

    def add_arguments(self, parser):
        parser.add_argument("--username", help="Whose file (default: the person with the most clear-downs).")
        parser.add_argument("--runs", type=int, default=5, help="Runs of each side; medians are reported.")
        parser.add_argument("--side", choices=["portal", "rows"], help="Internal: run one side only and print JSON.")

    def handle(self, *args, username: str | None, runs: int, side: str | None, **options):
        User = get_user_model()
        if username:
            person = User.objects.filter(username=username).first()
        else:
            person = User.objects.annotate(n=Count("obligations")).order_by("-n", "pk").first()
        if person is None:
            raise CommandError("Nobody to export: run `manage.py seed_scale` on this database first.")
        if side:
            result = self._portal(person) if side == "portal" else self._rows(person)
            result["peak_mb"] = _peak_mb()
            self.stdout.write(json.dumps(result))
            return
        w = self.stdout.write
        load_before = os.getloadavg()
        results: dict[str, list[dict]] = {"rows": [], "portal": []}
        for n in range(1, runs + 1):
            for name in ("rows", "portal"):
                results[name].append(self._run_side(person.get_username(), name))
            rows, portal = results["rows"][-1], results["portal"][-1]
            # The file can hold more rows than were read just before it, never fewer: a person
            # who exports (the DPO here) finds the runs' own export log entries in it.
            if portal["rows"] < rows["rows"]:
                raise CommandError(f"Rows missing: file {portal['rows']}, rows read {rows['rows']}")
            w(
                f"  run {n}: rows alone {rows['seconds'] * 1000:7.1f} ms, file {portal['seconds'] * 1000:7.1f} ms, "
                f"file peak RSS {portal['peak_mb']:.0f} MB"
            )
        load_after = os.getloadavg()
        first = results["portal"][0]
        w(f"Subject access file of {person.get_username()}: {first['rows']:,} rows, {first['bytes']:,} bytes zipped")
        for name, label in (("rows", "the kinds' rows, read alone"), ("portal", "the file, through the view")):
            r = results[name]
            w(
                f"  {label:<30} median {median(x['seconds'] for x in r) * 1000:8.1f} ms  "
                f"peak RSS {max(x['peak_mb'] for x in r):6.1f} MB"
            )
        ratio = median(x["seconds"] for x in results["portal"]) / median(x["seconds"] for x in results["rows"])
        w(f"  time ratio file / rows alone: {ratio:.2f} (medians of {runs} runs)")
        w(f"  load average before {load_before[0]:.1f} / after {load_after[0]:.1f} (1 min) on {os.cpu_count()} CPUs")

    def _run_side(self, username: str, name: str) -> dict:
        out = subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, "manage.py", "bench_subject_access", "--username", username, "--side", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    def _portal(self, person) -> dict:
        if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        dpo = get_user_model().objects.filter(groups__name=DPO_ROLE, is_active=True).order_by("pk").first()
        if dpo is None:
            raise CommandError("No DPO: run `manage.py seed_scale` on this database first.")
        client = Client()
        client.force_login(dpo)
        started = time.perf_counter()
        response = client.get(reverse("audit:subject_access_file", args=[person.pk]))
        size = sum(len(piece) for piece in response.streaming_content)
        seconds = time.perf_counter() - started
        rows = ExportLog.objects.get(pk=response["X-Export-Log"]).rows
        return {"rows": rows, "bytes": size, "seconds": seconds}

    def _rows(self, person) -> dict:
        started = time.perf_counter()
        rows = sum(len(batch) for kind in subject_access.KINDS for batch in kind.rows(person))
        return {"rows": rows, "bytes": 0, "seconds": time.perf_counter() - started}
