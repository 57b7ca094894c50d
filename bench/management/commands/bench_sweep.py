"""Time the sweep right after a force-wide boundary, at 1× and 2× the groups, in one run.

    DATABASE_URL=postgres://…/portal_bench python manage.py seed_scale --staff 10000 --groups 1000 --weeks 52
    DATABASE_URL=postgres://…/portal_bench CELERY_BROKER_URL=redis://…/N python manage.py bench_sweep

On force data (`seed_scale`), every group is put on one schedule (Friday 17:00), so that a
Friday closes a week for all of them at once. Each week is then lived through as beat would:

1. Friday 17:15, the **close**: every group's week just ended: its cycle and the members'
   clear-downs are made (afterwards the bench prompts 97 % of the cycles and has 90 % of the
   members attest, by SQL);
2. Saturday 17:15, the **reminders**: the members still owing are reminded, a day before the
   deadline; the missed prompts are flagged;
3. Sunday 17:15, the **deadline**: everyone still owing is overdue and flagged, and every admin
   and deputy concerned gets a digest.

The sweep runs as beat's task does (`sweep` then the holds' step) with emails queued for real
on CELERY_BROKER_URL (no worker takes them; the queue is emptied afterwards). A first week is
lived through untimed (it catches up with the seeded data); then one week at 1×; then as many
groups again are added (copies of the seeded ones, with the same members) and one week at 2×.
It prints each sweep's time, queries and emails, and the 2× / 1× ratios.

The emails queued are then marked sent, as workers would have sent them. The data moves on by
three weeks and the copies stay (a later run keeps them out of its 1x week): run it on a
database made for it.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attestations import periods
from attestations.models import Cycle, Obligation, SentEmail
from attestations.notifications import holds
from attestations.notifications import sweep as sweeps
from groups.models import ChatGroup, Membership
from opcc_portal.celery import app

FRIDAY = 4
AT = dt.time(17, 0)
COPY_SUFFIX = " (2x)"


class Command(BaseCommand):
    help = "Time the sweeps of a force-wide week (close, reminders, deadline) at 1x and 2x the groups."

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_sweep needs the force data on PostgreSQL (seed_scale).")
        if not ChatGroup.objects.exists():
            raise CommandError("No groups: run `manage.py seed_scale` on this database first.")
        w = self.stdout.write
        w(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; broker {settings.CELERY_BROKER_URL}")
        ChatGroup.objects.update(cycle_weekday=FRIDAY, cycle_time=AT)
        last_end = Cycle.objects.order_by("-period_end").values_list("period_end", flat=True).first()
        friday = periods.last_ended_period(weekday=FRIDAY, at=AT, now=last_end + dt.timedelta(days=7)).end
        if friday <= last_end:
            friday += dt.timedelta(days=7)
        copies = ChatGroup.objects.filter(name__endswith=COPY_SUFFIX)
        copies.update(status=ChatGroup.Status.PROPOSED)  # from an earlier run: no part at 1x
        self._week(friday, label=None)  # catching up with the data as it is, untimed
        one = self._week(friday + dt.timedelta(days=7), label="1x")
        if copies.exists():
            copies.update(status=ChatGroup.Status.APPROVED)
        else:
            self._copy_groups(approved_at=friday)
        two = self._week(friday + dt.timedelta(days=14), label="2x")
        w("2x / 1x time ratios: " + ", ".join(f"{k} {two[k]['seconds'] / one[k]['seconds']:.2f}" for k in one))
        worst = max(one.values(), key=lambda r: r["seconds"])
        w(f"longest sweep at 1x: {worst['seconds']:.2f} s (goal <= 5 s); load average {os.getloadavg()[0]:.1f}")

    def _week(self, friday: dt.datetime, *, label: str | None) -> dict:
        groups = ChatGroup.objects.filter(status=ChatGroup.Status.APPROVED).count()
        results = {}
        first_cycle = (Cycle.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        for name, hours in (("close", 0), ("reminders", 24), ("deadline", 48)):
            now = friday + dt.timedelta(hours=hours, minutes=15)
            results[name] = self._sweep(now)
            if name == "close":
                self._members_act(first_cycle)
            if label:
                r = results[name]
                self.stdout.write(
                    f"  {label} ({groups:,} groups) {name:<9} {now:%a %d %b %H:%M}: {r['seconds']:6.2f} s, "
                    f"{r['queries']:>4} queries, {r['emails']:>5,} emails queued, {r['cycles']:>5,} cycles closed, "
                    f"{r['flags']:>5,} flags raised"
                )
        return results

    def _sweep(self, now: dt.datetime) -> dict:
        app.control.purge()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = sweeps.sweep(now=now)
            emails = len(result.emails) + len(holds.sweep(now=now))
            seconds = time.perf_counter() - started
        app.control.purge()
        # What the workers would have done: every email queued is sent (else each later sweep
        # would queue again every email still pending after EMAIL_REQUEUE_MINUTES).
        SentEmail.objects.filter(status=SentEmail.Status.PENDING).update(
            status=SentEmail.Status.SENT, sent_at=now, attempted_at=now, attempts=1
        )
        return {
            "seconds": seconds,
            "queries": len(queries),
            "emails": emails,
            "cycles": result.cycles,
            "flags": result.flags_raised,
        }

    def _members_act(self, first_cycle: int) -> None:
        """The admins prompt 97 % of the new cycles within the hour; 90 % of members attest."""
        cycles, obligations = Cycle._meta.db_table, Obligation._meta.db_table
        groups = ChatGroup._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {cycles} c SET prompted_at = c.period_end + interval '1 hour', prompted_by_id = g.admin_id
                    FROM {groups} g WHERE g.id = c.group_id AND c.id >= %s AND c.id %% 33 <> 0
                    AND c.hold_id IS NULL AND g.admin_id IS NOT NULL""",
                [first_cycle],
            )
            # The prompt emails the members, as the prompt service does.
            cursor.execute(
                f"""UPDATE {obligations} o SET prompt_emailed_at = c.prompted_at FROM {cycles} c
                    WHERE c.id = o.cycle_id AND c.id >= %s AND c.prompted_at IS NOT NULL""",
                [first_cycle],
            )
            cursor.execute(
                f"""UPDATE {obligations} o SET status = 'attested', attested_at = c.period_end + interval '3 hours',
                    cleared_on = (c.period_end AT TIME ZONE 'Europe/London')::date, confirmed_cleared = true,
                    confirmed_saved = true, channel = 'web'
                    FROM {cycles} c WHERE c.id = o.cycle_id AND c.id >= %s AND o.status = 'pending'
                    AND o.id %% 10 <> 0""",
                [first_cycle],
            )

    def _copy_groups(self, *, approved_at: dt.datetime) -> None:
        """As many groups again: copies of the seeded approved ones, with the same members (bench rows)."""
        fields = [f.column for f in ChatGroup._meta.concrete_fields if not f.primary_key]
        select = ["name || %s" if c == "name" else "%s" if c in ("approved_at", "created_at") else c for c in fields]
        member_fields = [f.column for f in Membership._meta.concrete_fields if not f.primary_key]
        member_select = ["n.id" if c == "group_id" else f"m.{c}" for c in member_fields]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {ChatGroup._meta.db_table} ({", ".join(fields)})
                    SELECT {", ".join(select)} FROM {ChatGroup._meta.db_table} WHERE status = %s ORDER BY id""",
                [
                    *(
                        COPY_SUFFIX if c == "name" else approved_at
                        for c in fields
                        if c in ("name", "approved_at", "created_at")
                    ),
                    ChatGroup.Status.APPROVED,
                ],
            )
            cursor.execute(
                f"""INSERT INTO {Membership._meta.db_table} ({", ".join(member_fields)})
                    SELECT {", ".join(member_select)} FROM {Membership._meta.db_table} m
                    JOIN {ChatGroup._meta.db_table} o ON o.id = m.group_id
                    JOIN {ChatGroup._meta.db_table} n ON n.name = o.name || %s""",
                [COPY_SUFFIX],
            )
            cursor.execute("ANALYZE")
