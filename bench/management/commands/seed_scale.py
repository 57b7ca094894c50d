"""Force-sized data for the dashboard benchmark, built fast with bulk inserts.

    python manage.py seed_scale --staff 10000 --groups 1000 --weeks 52

Only into an empty database made for it (it refuses one that holds any group): the rows
go straight in with COPY on PostgreSQL and `executemany` on SQLite, bypassing services
and history, so they are benchmark data, never a record. Every row satisfies the models'
constraints: the database checks them as they go in.

What it makes, from a seeded random generator (same arguments, same data):

- staff accounts (one password for all), plus `scale-dpo` and `scale-auditor`;
- groups of about 20 members on a few weekly schedules: most approved, a few suspended,
  retired or proposed; some members join late or leave;
- `--weeks` closed cycles per group, most prompted on time, some late or never;
- one obligation per member per cycle: most attested on time, some late, a few overdue,
  some excused; a few groups under a hold (held obligations, cycles with none owed);
- the flags the sweeps would have raised: open for overdue and unprompted, resolved for
  late attestations and late prompts.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterable, Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group as Role
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from attestations import periods
from attestations.models import Cycle, Flag, Hold, Obligation
from groups.models import ChatGroup, Membership
from groups.permissions import AUDITOR_ROLE, DPO_ROLE

PASSWORD = "scale-data-only-2026"
UTC = dt.UTC
HOUR = dt.timedelta(hours=1)

# (share of members, on time, late, overdue, excused): the rest of each row is on time.
PROFILES = [(0.75, 0.975, 0.015, 0.004, 0.006), (0.20, 0.86, 0.09, 0.03, 0.02), (0.05, 0.55, 0.25, 0.15, 0.05)]
STATUS_MIX = [(0.94, "approved"), (0.97, "suspended"), (0.99, "retired"), (1.01, "proposed")]
WORDS = [
    "Urgent", "Operations", "Comms", "Estates", "Finance", "Victims", "Partnership", "Policy", "Board",
    "Scrutiny", "Diary", "Media", "Commissioning", "Rota", "Events", "Youth", "Custody", "Audit",
]  # fmt: skip
FIRST = ["Alex", "Sam", "Jo", "Priya", "Morgan", "Dana", "Amir", "Grace", "Owen", "Ruth", "Tom", "Aisha", "Ben", "Li"]
LAST = ["Lee", "Price", "Khan", "Adeyemi", "Jones", "Shah", "Taylor", "Smith", "Brown", "Patel", "Evans", "Wood"]


class Command(BaseCommand):
    help = "Build force-sized benchmark data with bulk inserts (an empty, dedicated database only)."

    def add_arguments(self, parser):
        parser.add_argument("--staff", type=int, default=10_000)
        parser.add_argument("--groups", type=int, default=1_000)
        parser.add_argument("--weeks", type=int, default=52)
        parser.add_argument("--members", type=int, default=20, help="Average members a group (default 20).")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, staff, groups, weeks, members, seed, **options):
        if staff < 10 or groups < 1 or weeks < 1 or members < 3:
            raise CommandError("Need at least --staff 10 --groups 1 --weeks 1 --members 3.")
        if ChatGroup.objects.exists():
            raise CommandError(
                "This database already holds groups. seed_scale fills an empty database made for the "
                "benchmark (e.g. DATABASE_URL=postgres://…/portal_bench after `migrate`), never a real one."
            )
        started = time.monotonic()
        builder = Builder(staff=staff, groups=groups, weeks=weeks, members=members, seed=seed, out=self.stdout)
        with transaction.atomic():
            counts = builder.build()
        self.stdout.write("Analysing tables…")
        _analyse()
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{n:,} {name}" for name, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Seeded {summary} in {elapsed:.1f} s on {connection.vendor}."))
        self.stdout.write(f"Sign in as scale-dpo / scale-auditor / staff00001… with password {PASSWORD}")


def _analyse() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Outside a transaction: VACUUM sets the visibility map, so counts can be index-only.
            for model in (get_user_model(), ChatGroup, Membership, Hold, Cycle, Obligation, Flag):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        else:
            cursor.execute("ANALYZE")


class Inserter:
    """Writes tuples into one table as fast as the database allows, with explicit ids."""

    def __init__(self, model, fields: Sequence[str]):
        self.model = model
        self.table = model._meta.db_table
        self.columns = [model._meta.get_field(name).column for name in fields]
        self.pg = connection.vendor == "postgresql"

    def write(self, rows: Iterable[tuple]) -> int:
        n = 0
        cols = ", ".join(self.columns)
        with connection.cursor() as cursor:
            if self.pg:
                with cursor.cursor.copy(f"COPY {self.table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        n += 1
            else:
                marks = ", ".join("?" for _ in self.columns)
                # Table and column names come from the models, never from input.
                sql = f"INSERT INTO {self.table} ({cols}) VALUES ({marks})"  # noqa: S608
                batch: list[tuple] = []
                raw = cursor.cursor
                for row in rows:
                    batch.append(tuple(_sqlite(v) for v in row))
                    if len(batch) == 20_000:
                        raw.executemany(sql, batch)
                        n += len(batch)
                        batch = []
                if batch:
                    raw.executemany(sql, batch)
                    n += len(batch)
        return n


def _sqlite(value):
    # Django keeps datetimes in SQLite as naive UTC text, dates and times as ISO text.
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


def _next_id(model) -> int:
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


class Builder:
    def __init__(self, *, staff: int, groups: int, weeks: int, members: int, seed: int, out):
        self.n_staff, self.n_groups, self.n_weeks, self.members = staff, groups, weeks, members
        self.rng = random.Random(seed)
        self.now = timezone.now()
        self.out = out

    def log(self, message: str) -> None:
        self.out.write(f"  {message}")

    def build(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        counts["staff"] = self.make_users()
        counts["groups"] = self.make_groups()
        self.make_memberships()
        counts["holds"] = self.make_holds()
        counts["cycles"], counts["obligations"], counts["flags"] = self.make_cycles_and_obligations()
        counts["memberships"] = len(self.membership_rows)
        self.reset_sequences()
        return counts

    # -- people ----------------------------------------------------------------------
    def make_users(self) -> int:
        User = get_user_model()
        password = make_password(PASSWORD)  # hashed once; every account shares it
        first_id = _next_id(User)
        joined = self.now - dt.timedelta(weeks=self.n_weeks + 8)
        rng = self.rng

        def rows():
            for i in range(self.n_staff + 2):
                pk = first_id + i
                if i == 0:
                    username, first, last = "scale-dpo", "Dana", "Price"
                elif i == 1:
                    username, first, last = "scale-auditor", "Amir", "Khan"
                else:
                    username, first, last = f"staff{i - 1:05d}", rng.choice(FIRST), rng.choice(LAST)
                yield (pk, password, None, False, username, first, last, f"{username}@example.org", False, True, joined)

        fields = ["id", "password", "last_login", "is_superuser", "username", "first_name", "last_name", "email",
                  "is_staff", "is_active", "date_joined"]  # fmt: skip
        n = Inserter(User, fields).write(rows())
        self.dpo_id, self.auditor_id = first_id, first_id + 1
        self.staff_ids = list(range(first_id + 2, first_id + 2 + self.n_staff))
        Role.objects.get(name=DPO_ROLE).user_set.add(self.dpo_id)
        Role.objects.get(name=AUDITOR_ROLE).user_set.add(self.auditor_id)
        self.log(f"{n:,} accounts")
        return n

    # -- the register ------------------------------------------------------------------
    def make_groups(self) -> int:
        rng, now = self.rng, self.now
        first_id = _next_id(ChatGroup)
        weekdays = [4] * 6 + [0, 1, 2, 3, 5]  # mostly Fridays
        times = [dt.time(17), dt.time(17), dt.time(16), dt.time(12), dt.time(9, 30)]
        self.groups: list[dict] = []
        approved_at = now - dt.timedelta(weeks=self.n_weeks + 2)
        rows = []
        for i in range(self.n_groups):
            pk = first_id + i
            roll = rng.random()
            status = next(s for limit, s in STATUS_MIX if roll < limit)
            admin = rng.choice(self.staff_ids)
            deputy = rng.choice(self.staff_ids) if rng.random() < 0.5 else None
            if deputy == admin:
                deputy = None
            weekday, at = rng.choice(weekdays), rng.choice(times)
            # Suspended and retired groups stopped some weeks ago; proposals never started.
            stopped = rng.randint(1, max(1, self.n_weeks - 1)) if status in ("suspended", "retired") else 0
            group = {"pk": pk, "status": status, "admin": admin, "deputy": deputy, "weekday": weekday, "at": at,
                     "stopped": stopped}  # fmt: skip
            self.groups.append(group)
            name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i + 1:04d}"
            rows.append(
                (pk, name, "Short-term coordination of urgent work; decisions are filed in corporate systems.", "",
                 admin, deputy, status, "" if status in ("proposed", "approved") else "Scale data", weekday, at,
                 admin, None if status == "proposed" else self.dpo_id,
                 None if status == "proposed" else approved_at, approved_at - dt.timedelta(days=3), approved_at)
            )  # fmt: skip
        fields = ["id", "name", "purpose", "logo", "admin", "deputy", "status", "status_reason", "cycle_weekday",
                  "cycle_time", "proposed_by", "approved_by", "approved_at", "created_at", "updated_at"]  # fmt: skip
        n = Inserter(ChatGroup, fields).write(rows)
        self.log(f"{n:,} groups")
        return n

    def make_memberships(self) -> None:
        rng, weeks = self.rng, self.n_weeks
        first_id = _next_id(Membership)
        base_join = self.now - dt.timedelta(weeks=weeks + 4)
        rows = []
        pk = first_id
        for group in self.groups:
            size = max(3, min(60, int(rng.gauss(self.members, self.members / 5))))
            others = [u for u in rng.sample(self.staff_ids, size + 2) if u not in (group["admin"], group["deputy"])]
            people = [group["admin"]] + ([group["deputy"]] if group["deputy"] else []) + others
            people = people[:size]
            group["members"] = []
            for user in people:
                # Owed cycles are week indexes [first, last) of 0 (oldest) .. weeks - 1 (latest).
                first, last = 0, weeks
                joined, left = base_join, None
                roll = rng.random() if user not in (group["admin"], group["deputy"]) else 1.0
                if roll < 0.05 and weeks > 2:  # joined part-way
                    first = rng.randint(1, weeks - 1)
                    joined = None  # set from the period end once periods are known
                elif roll < 0.10 and weeks > 2:  # left part-way
                    last = rng.randint(1, weeks - 1)
                group["members"].append({"user": user, "first": first, "last": last, "pk": pk})
                rows.append([pk, group["pk"], user, joined, left, group["admin"], None])
                pk += 1
        # Written with the cycles, once the period ends have fixed the join and leave times.
        self.membership_rows = rows

    def make_holds(self) -> int:
        rng = self.rng
        first_id = _next_id(Hold)
        rows = []
        pk = first_id
        for group in self.groups:
            group["hold"] = None
            if group["status"] != "approved" or self.n_weeks < 4:
                continue
            roll = rng.random()
            if roll < 0.06:
                placed_week = rng.randint(max(0, self.n_weeks - 12), self.n_weeks - 1)
                lifted_week = None
                if roll < 0.03:  # lifted some weeks later
                    placed_week = rng.randint(0, max(0, self.n_weeks - 6))
                    lifted_week = placed_week + rng.randint(1, 4)
                group["hold"] = {"pk": pk, "placed_week": placed_week, "lifted_week": lifted_week}
                rows.append(pk)
                pk += 1
        self.hold_count = len(rows)
        return len(rows)

    # -- cycles, obligations, flags -------------------------------------------------------
    def periods_of(self, weekday: int, at: dt.time) -> list[tuple]:
        """The last `weeks` periods of a schedule, oldest first: (start, end, prompt_due, due)."""
        key = (weekday, at)
        cache = self.__dict__.setdefault("_periods", {})
        if key not in cache:
            last = periods.last_ended_period(weekday=weekday, at=at, now=self.now)
            last_day = last.end.astimezone(periods.LONDON).date()
            out = []
            for k in range(self.n_weeks - 1, -1, -1):
                end = periods.local_to_utc(last_day - dt.timedelta(days=7 * k), at)
                start = periods.local_to_utc(last_day - dt.timedelta(days=7 * (k + 1)), at)
                due = periods.add_local_hours(end, 48)
                prompt_due = min(periods.add_local_hours(end, 24), due)
                out.append((start, end, prompt_due, due))
            cache[key] = out
        return cache[key]

    def make_cycles_and_obligations(self) -> tuple[int, int, int]:
        rng, now = self.rng, self.now
        cycle_id, obligation_id, flag_id = _next_id(Cycle), _next_id(Obligation), _next_id(Flag)
        cycles, holds, flags = [], [], []
        obligation_fields = ["id", "cycle", "user", "status", "due_at", "attested_at", "cleared_on",
                             "confirmed_cleared", "confirmed_saved", "channel", "excused_by", "excused_at",
                             "excuse_reason", "prompt_emailed_at"]  # fmt: skip
        profile_of: dict[int, tuple] = {}
        cumulative = []
        acc = 0.0
        for profile in PROFILES:
            acc += profile[0]
            cumulative.append((acc, profile))

        def profile(user: int) -> tuple:
            if user not in profile_of:
                roll = rng.random()
                profile_of[user] = next((p for limit, p in cumulative if roll < limit), PROFILES[0])
            return profile_of[user]

        memberships_by_pk = {row[0]: row for row in self.membership_rows}

        def obligations():
            nonlocal cycle_id, obligation_id, flag_id
            for group in self.groups:
                schedule = self.periods_of(group["weekday"], group["at"])
                for m in group["members"]:
                    row = memberships_by_pk[m["pk"]]
                    if m["first"] > 0:  # joined during the period before their first owed one
                        start, end = schedule[m["first"]][0], schedule[m["first"]][1]
                        row[3] = start + (end - start) / 2
                    if m["last"] < self.n_weeks:  # left a day after their last owed period ended
                        row[4] = schedule[m["last"] - 1][1] + dt.timedelta(days=1) if m["last"] > 0 else None
                        if row[4] is None:
                            row[4] = row[3] + HOUR
                if group["status"] == "proposed":
                    continue
                n_cycles = self.n_weeks - group["stopped"]
                hold = group["hold"]
                hold_placed = hold_lifted = None
                if hold:
                    pw = min(hold["placed_week"], self.n_weeks - 1)
                    hold_placed = schedule[pw][1] + dt.timedelta(hours=20)  # the day after a period ended
                    hold_placed = min(hold_placed, now - HOUR)
                    if hold["lifted_week"] is not None:
                        lw = min(hold["lifted_week"], self.n_weeks - 1)
                        hold_lifted = min(schedule[lw][1] + dt.timedelta(hours=30), now - HOUR)
                        if hold_lifted < hold_placed:
                            hold_lifted = hold_placed
                    holds.append(
                        (hold["pk"], group["pk"], f"FOI-{group['pk']:05d}", "An FOI request covers these messages.",
                         self.dpo_id, hold_placed, self.dpo_id if hold_lifted else None, hold_lifted,
                         "Request answered." if hold_lifted else "")
                    )  # fmt: skip
                for week in range(n_cycles):
                    start, end, prompt_due, due = schedule[week]
                    # Under a hold from before this period ended: recorded, nothing owed (R9).
                    under_hold = (
                        hold_placed is not None and hold_placed <= end and (hold_lifted is None or hold_lifted > end)
                    )
                    # Open when the hold came: what was not yet done became held.
                    held_at_placement = hold_placed is not None and end < hold_placed < due
                    this_cycle = cycle_id
                    cycle_id += 1
                    prompted_at = None
                    if held_at_placement:  # prompted, if at all, before the hold came
                        candidate = end + dt.timedelta(minutes=rng.randint(30, 23 * 60))
                        prompted_at = candidate if candidate < hold_placed else None
                    elif not under_hold:
                        roll = rng.random()
                        if roll < 0.90:
                            prompted_at = end + dt.timedelta(minutes=rng.randint(30, 23 * 60))
                        elif roll < 0.96:
                            prompted_at = prompt_due + dt.timedelta(minutes=rng.randint(30, 20 * 60))
                        if prompted_at is not None and prompted_at > now:
                            prompted_at = None
                        raised = prompt_due + dt.timedelta(minutes=15)
                        if (prompted_at is None or prompted_at > raised) and raised <= now:
                            flags.append((flag_id, "prompt_missed", this_cycle, group["pk"], group["admin"], raised,
                                          raised + dt.timedelta(minutes=5), None, prompted_at))  # fmt: skip
                            flag_id += 1
                    cycles.append(
                        (this_cycle, group["pk"], start, end, prompt_due, due, prompted_at,
                         group["admin"] if prompted_at else None,
                         hold["pk"] if (under_hold or held_at_placement) else None, end + dt.timedelta(minutes=5))
                    )  # fmt: skip
                    if under_hold:
                        continue
                    for m in group["members"]:
                        if not (m["first"] <= week < m["last"]):
                            continue
                        user = m["user"]
                        _, p_on_time, p_late, p_overdue, p_excused = profile(user)
                        roll = rng.random()
                        status, attested_at, excused = "pending", None, False
                        if roll < p_excused:
                            excused = True
                            status = "excused"
                        elif roll < p_excused + p_overdue:
                            pass
                        elif roll < p_excused + p_overdue + p_late:
                            attested_at = due + dt.timedelta(minutes=rng.randint(1, 5 * 24 * 60))
                            status = "late"
                        else:
                            attested_at = end + dt.timedelta(minutes=rng.randint(20, 47 * 60))
                            status = "attested"
                        if attested_at is not None and attested_at > now:
                            status, attested_at = "pending", None
                        if held_at_placement and (attested_at is None or attested_at > hold_placed) and not excused:
                            status, attested_at = "held", None
                        emailed = prompted_at + dt.timedelta(minutes=1) if prompted_at else None
                        if status in ("attested", "late"):
                            yield (obligation_id, this_cycle, user, status, due, attested_at,
                                   attested_at.astimezone(periods.LONDON).date(), True, True,
                                   "email" if rng.random() < 0.4 else "web", None, None, "", emailed)  # fmt: skip
                        elif excused:
                            by = group["admin"] if user != group["admin"] else self.dpo_id
                            yield (obligation_id, this_cycle, user, status, due, None, None, False, False, "",
                                   by, end + HOUR, "Annual leave", emailed)  # fmt: skip
                        else:
                            yield (obligation_id, this_cycle, user, status, due, None, None, False, False, "",
                                   None, None, "", emailed)  # fmt: skip
                        obligation_id += 1
                        # The overdue sweep runs every 15 minutes: a flag for what was still open.
                        raised = due + dt.timedelta(minutes=15)
                        if (
                            status in ("pending", "late")
                            and raised <= now
                            and (attested_at is None or attested_at > raised)
                        ):
                            escalated = raised + dt.timedelta(hours=72) if attested_at is None else None
                            if escalated is not None and escalated > now:
                                escalated = None
                            flags.append((flag_id, "member_overdue", this_cycle, group["pk"], user, raised,
                                          raised + dt.timedelta(minutes=5), escalated, attested_at))  # fmt: skip
                            flag_id += 1

        # Obligations stream straight into the database while cycles, holds and flags
        # collect; the parent rows go in first inside the same transaction.
        generated = list(obligations())
        self.log(f"generated {len(generated):,} obligations")
        membership_fields = ["id", "group", "user", "joined_at", "left_at", "added_by", "removed_by"]
        Inserter(Membership, membership_fields).write(
            tuple(row[:6]) + (row[5] if row[4] else None,) for row in self.membership_rows
        )
        self.log(f"{len(self.membership_rows):,} memberships")
        hold_fields = ["id", "group", "reference", "reason", "placed_by", "placed_at", "lifted_by", "lifted_at",
                       "lift_reason"]  # fmt: skip
        Inserter(Hold, hold_fields).write(holds)
        cycle_fields = ["id", "group", "period_start", "period_end", "prompt_due_at", "due_at", "prompted_at",
                        "prompted_by", "hold", "created_at"]  # fmt: skip
        Inserter(Cycle, cycle_fields).write(cycles)
        self.log(f"{len(cycles):,} cycles, {len(holds):,} holds")
        n = Inserter(Obligation, obligation_fields).write(generated)
        self.log(f"{n:,} obligations")
        flag_fields = ["id", "kind", "cycle", "group", "user", "raised_at", "notified_at", "escalated_at",
                       "resolved_at"]  # fmt: skip
        Inserter(Flag, flag_fields).write(flags)
        self.log(f"{len(flags):,} flags")
        return len(cycles), n, len(flags)

    def reset_sequences(self) -> None:
        models = [get_user_model(), ChatGroup, Membership, Hold, Cycle, Obligation, Flag]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)
