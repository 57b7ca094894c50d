"""A steady load of members already signed in, on force data, against gunicorn; then the sign-in burst.

    DATABASE_URL=postgres://…/portal_bench python manage.py seed_scale --staff 10000 --groups 1000 --weeks 52
    DATABASE_URL=postgres://…/portal_bench python manage.py bench_load --users 50 --seconds 60

Members who owe a clear-down now (pending, deadline ahead) are signed in by sessions made in
the database. gunicorn runs as the Procfile does (3 gthread workers of 4 threads) on
127.0.0.1, and locust (`bench/locust_steady.py`) plays `--users` people at once, each doing
home → the confirm page of their emailed link → attest → home, thinking between steps, then
taking the next member. The workers are warmed first (each step's pages, GETs only), people
start over ten seconds and think for a random time around `--think`, and the figures are of
the `--seconds` after everyone is under way (locust's `--reset-stats`): a steady state, not
the start. It prints each step's and the overall p50/p95/p99 and errors, then
checks the database: each attestation recorded once (one history row saying so per
clear-down, one ledger entry each). Then the sign-in burst, measured apart: `--users` people
signing in with their password at the same moment (the password hash is the work), p50/p95/max.

Attests for real: the members' clear-downs are done afterwards. Use a database made for it.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from attestations import links, periods
from attestations.models import Obligation
from bench.management.commands.seed_scale import PASSWORD
from bench.serve import ROOT, Gunicorn, signed_in_cookie

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Command(BaseCommand):
    help = "Steady load of signed-in members (home, confirm, attest, home) against gunicorn; then a sign-in burst."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=50)
        parser.add_argument("--seconds", type=int, default=60)
        parser.add_argument("--think", type=float, default=2.0, help="Seconds between a person's steps.")
        parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (the Procfile's default).")
        parser.add_argument("--port", type=int, default=8793)

    def handle(self, *args, users: int, seconds: int, think: float, workers: int, port: int, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_load needs the force data on PostgreSQL (seed_scale).")
        if "127.0.0.1" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            raise CommandError("ALLOWED_HOSTS must include 127.0.0.1.")
        started = timezone.now()
        members = self._members(limit=users * 8)
        if len(members) < users:
            raise CommandError(f"Only {len(members)} members owe a clear-down now: seed a fresh database.")
        w = self.stdout.write
        w(f"{len(members)} members signed in, {users} at a time, think {think:g} s; gunicorn {workers}x4 threads")
        w(f"load average before {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch:
            pool = Path(scratch) / "members.json"
            pool.write_text(json.dumps(members))
            with Gunicorn(port, workers=workers):
                _warm_up(port, members, threads=workers * 4)
                stats = self._locust(pool, Path(scratch) / "locust", users, seconds, think, port)
                burst = _sign_in_burst(port, [m["username"] for m in members[:users]])
        checks = self._check([o for m in members for o in m["obligations"]], since=started)
        for name, row in stats["steps"].items():
            w(f"  {name:<8} {row['requests']:>6} requests  p50 {row['p50']:>5} ms  p95 {row['p95']:>5} ms  "
              f"p99 {row['p99']:>5} ms  {row['failures']} errors")  # fmt: skip
        total = stats["total"]
        w(
            f"steady state: {total['requests']} requests, {total['rps']:.1f} req/s, p50 {total['p50']} ms, "
            f"p95 {total['p95']} ms (goal <= 150), p99 {total['p99']} ms, {total['failures']} errors"
        )
        w(
            f"attested {checks['attested']} of {checks['owed']} clear-downs of these members; "
            f"{checks['duplicates']} duplicate attestations, {checks['ledger_duplicates']} duplicate ledger entries"
        )
        w(
            f"sign-in burst: {burst['n']} at once, p50 {burst['p50']:.0f} ms, p95 {burst['p95']:.0f} ms, "
            f"max {burst['max']:.0f} ms, {burst['errors']} errors"
        )
        w(f"load average after {os.getloadavg()[0]:.1f}")
        report = {"steady": total, "checks": checks, "burst": burst}
        w("JSON " + json.dumps(report))

    def _members(self, *, limit: int) -> list[dict]:
        now = timezone.now()
        today = now.astimezone(periods.LONDON).date().isoformat()
        owing = (
            Obligation.objects.filter(status=Obligation.Status.PENDING, due_at__gt=now, cycle__period_end__lt=now)
            .filter(user__is_active=True, cycle__hold__isnull=True)
            .select_related("user", "cycle")
            .order_by("user_id", "pk")
        )
        by_user: dict[int, list[Obligation]] = {}
        for obligation in owing:
            if len(by_user) >= limit and obligation.user_id not in by_user:
                break
            by_user.setdefault(obligation.user_id, []).append(obligation)
        return [
            {
                "username": owed[0].user.username,
                "cookie": signed_in_cookie(owed[0].user),
                "link": f"/clear-downs/link/{links.obligation_link_token(owed[0])}/",
                "obligations": [str(o.pk) for o in owed],
                "cleared_on": today,
            }
            for owed in by_user.values()
        ]

    def _locust(self, pool: Path, prefix: Path, users: int, seconds: int, think: float, port: int) -> dict:
        env = {**os.environ, "LOAD_MEMBERS": str(pool), "LOAD_THINK_SECONDS": str(think)}
        # People start over RAMP_SECONDS, not all in the same instant; the figures start after.
        rate = max(1, round(users / RAMP_SECONDS))
        ramp = -(-users // rate)
        subprocess.run(  # noqa: S603 - our own tool, fixed arguments
            [sys.executable, "-m", "locust", "-f", "bench/locust_steady.py", "--headless", "-u", str(users),
             "-r", str(rate), "--reset-stats", "-t", f"{seconds + ramp}s", "--host", f"http://127.0.0.1:{port}",
             "--csv", str(prefix),
             "--only-summary", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        with prefix.with_name("locust_stats.csv").open() as handle:
            rows = list(csv.DictReader(handle))

        def figures(row):
            return {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50": int(float(row["50%"])),
                "p95": int(float(row["95%"])),
                "p99": int(float(row["99%"])),
            }

        steps = {row["Name"]: figures(row) for row in rows if row["Name"] != "Aggregated"}
        total = figures(next(row for row in rows if row["Name"] == "Aggregated"))
        return {"steps": steps, "total": total}

    def _check(self, obligation_ids: list[str], *, since: dt.datetime) -> dict:
        ids = [int(pk) for pk in obligation_ids]
        history = Obligation.history.model.objects.filter(
            id__in=ids, status__in=["attested", "late"], history_type="~", history_date__gte=since
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM (SELECT obligation_id FROM attestations_ledgerentry "
                "WHERE obligation_id = ANY(%s) GROUP BY obligation_id HAVING count(*) > 1) AS d",
                [ids],
            )
            ledger_duplicates = cursor.fetchone()[0]
        per_obligation = history.values("id").order_by().annotate(n=Count("pk"))
        return {
            "owed": len(ids),
            "attested": Obligation.objects.filter(pk__in=ids, status__in=["attested", "late"]).count(),
            "duplicates": sum(1 for row in per_obligation if row["n"] > 1),
            "ledger_duplicates": ledger_duplicates,
        }


RAMP_SECONDS = 10


def _warm_up(port: int, members: list[dict], *, threads: int) -> None:
    """Every worker thread serves the steps' pages a few times before the clock starts (its
    templates compiled, its database connection open), as a portal that has been up a while
    does: the figures are of the steady state, not of a start. GETs only: nothing recorded."""

    def one(member: dict) -> None:
        for path in ("/", member["link"]) * 2:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("GET", path, headers={"Cookie": member["cookie"]})
                conn.getresponse().read()
            finally:
                conn.close()

    workers = [threading.Thread(target=one, args=(members[i % len(members)],)) for i in range(threads * 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _sign_in_burst(port: int, usernames: list[str]) -> dict:
    """Everyone signs in at the same moment: the login page, then the password POST (timed)."""
    ready = threading.Barrier(len(usernames))
    times: list[float] = []
    errors: list[str] = []

    def one(username: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request("GET", "/accounts/login/")
            page = conn.getresponse()
            body = page.read().decode()
            cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_all("Set-Cookie") or [])
            token = CSRF.search(body).group(1)
            form = urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
            ready.wait()
            started = time.perf_counter()
            conn.request(
                "POST",
                "/accounts/login/",
                body=form,
                headers={"Cookie": cookies, "Content-Type": "application/x-www-form-urlencoded"},
            )
            response = conn.getresponse()
            response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 302:
                errors.append(f"{username}: HTTP {response.status}")
        except Exception as exc:  # noqa: BLE001 - every failure is one error of the burst
            errors.append(f"{username}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(name,)) for name in usernames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(times) or [0.0]
    return {
        "n": len(usernames),
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
        "errors": len(errors),
    }
