"""Benchmark the retention schedule's disposal over force-sized data: bounded batches or not.

    DATABASE_URL=postgres://…/portal_retention_bench python manage.py migrate
    DATABASE_URL=postgres://…/portal_retention_bench python manage.py seed_scale --staff 10000 --groups 1000 --weeks 52
    DATABASE_URL=postgres://…/portal_retention_bench python manage.py bench_retention --clear-downs-days 182

The schedule is shortened in this process only (clear-downs, flags and emails to the given
days), so about half of the seeded year is past its time. First the baseline, measured in the
same run: the same clear-downs deleted the simple way, three `DELETE … WHERE` statements in
one transaction, rolled back (every row it touched stays locked until its end). Then the
real run (`retention_run`: batches of `--batch-size`, each its own transaction), which
disposes of the data for good: seed again before running it twice. It prints the total time,
the rows per second, the number of transactions and the longest one, against the baseline's
single transaction.

Only on the seeded data: it refuses a database without the `scale-dpo` account seed_scale makes.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from attestations import retention
from attestations.models import Cycle, Flag, Obligation


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time the retention schedule's disposal over seed_scale data (destroys the old part of it)."

    def add_arguments(self, parser):
        parser.add_argument("--clear-downs-days", type=int, default=182)
        parser.add_argument("--batch-size", type=int, default=settings.RETENTION_BATCH_SIZE)
        parser.add_argument("--skip-baseline", action="store_true")

    def handle(self, *args, clear_downs_days: int, batch_size: int, skip_baseline: bool, **options):
        if not get_user_model().objects.filter(username="scale-dpo").exists():
            raise CommandError("Run seed_scale into a database made for it first: this disposes of its data.")
        days = clear_downs_days
        settings.RETENTION = {**settings.RETENTION, "clear_downs": days, "flags": days // 2, "emails": days // 2}
        now = timezone.now()
        cutoff = now - dt.timedelta(days=days)
        load = os.getloadavg()[0]
        self.stdout.write(
            f"{connection.vendor}: {Obligation.objects.count():,} obligations, {Cycle.objects.count():,} cycles, "
            f"{Flag.objects.count():,} flags; clear-downs kept {days} days; load {load:.2f}"
        )

        started = time.monotonic()
        plan = {f.kind: f for f in retention.retention_plan(now=now)}
        self.stdout.write(
            f"dry run (the page's figures): {time.monotonic() - started:.2f} s; "
            f"clear-downs due {plan['clear_downs'].count:,}, kept by holds {plan['clear_downs'].held_back:,}"
        )

        baseline = None
        if not skip_baseline:
            baseline = self._baseline(cutoff)
            self.stdout.write(f"baseline, one transaction (rolled back): {baseline:.2f} s")

        started = time.monotonic()
        run = retention.retention_run(now=now, batch_size=batch_size)
        total = time.monotonic() - started
        rows = sum(sum(r.details.values()) for r in run.records)
        batches = sum(r.batches for r in run.records)
        longest = max((r.longest_batch_ms for r in run.records), default=0)
        for r in run.records:
            self.stdout.write(
                f"  {r.kind}: {r.count:,} ({', '.join(f'{n:,} {k}' for k, n in r.details.items())}); "
                f"held back {r.held_back:,}; {r.batches} transactions, longest {r.longest_batch_ms} ms"
            )
        self.stdout.write(
            f"batched run: {total:.2f} s, {rows:,} rows, {rows / total:,.0f} rows/s, {batches} transactions "
            f"of at most {batch_size} records, longest {longest} ms"
        )
        if baseline:
            self.stdout.write(
                f"longest lock held: {longest / 1000:.2f} s batched against {baseline:.2f} s in one transaction "
                f"({baseline * 1000 / max(longest, 1):.0f}x shorter); total time {total / baseline:.2f}x the baseline's"
            )

    def _baseline(self, cutoff: dt.datetime) -> float:
        held = retention.held_groups(cutoff)
        old = Cycle.objects.filter(due_at__lt=cutoff).exclude(group_id__in=held)
        started = time.monotonic()
        try:
            with transaction.atomic():
                Flag.objects.filter(cycle__in=old)._raw_delete(connection.alias)
                Obligation.objects.filter(cycle__in=old)._raw_delete(connection.alias)
                old._raw_delete(connection.alias)
                raise _Rollback
        except _Rollback:
            pass
        return time.monotonic() - started
