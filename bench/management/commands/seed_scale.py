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

import contextlib
import datetime as dt
import itertools
import random
import resource
import time
from collections.abc import Iterable, Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group as Role
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from attestations import ledger, periods
from attestations.models import Cycle, CycleCount, Flag, Hold, LedgerEntry, Obligation, SentEmail, SentEmailCount
from groups.models import ChatGroup, Membership
from groups.permissions import AUDITOR_ROLE, DPO_ROLE

PASSWORD = "scale-data-only-2026"
# Groups whose year is built and written at a time: memory holds one batch.
BATCH_GROUPS = 25
# Emails that failed for good (a refused address).
FAILED_SHARE = 0.01
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
        with transaction.atomic(), indexes_built_after(_bulk_tables):
            counts = builder.build()
        self.stdout.write(f"Committed in {time.monotonic() - started:.1f} s. Writing by table (s):")
        for table, seconds in sorted(WRITE_SECONDS.items(), key=lambda item: -item[1]):
            self.stdout.write(f"  {table:<40} {seconds:7.1f}")
        self.stdout.write("Analysing tables…")
        _analyse()
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{n:,} {name}" for name, n in counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary} in {elapsed:.1f} s on {connection.vendor}, peak memory {_peak_mb():.0f} MB."
            )
        )
        self.stdout.write(f"Sign in as scale-dpo / scale-auditor / staff00001… with password {PASSWORD}")


def _bulk_tables() -> list[str]:
    return [m._meta.db_table for m in (LedgerEntry, Obligation.history.model, SentEmail, Obligation)]


@contextlib.contextmanager
def indexes_built_after(tables_of):
    """On PostgreSQL, drop the secondary indexes, unique constraints and foreign keys of the
    biggest tables for the load and make them again from the loaded rows at the end (in the
    same transaction): one sorted build instead of a million random inserts into each index
    (the ledger's hashes are random), and one join to check each foreign key instead of a
    check per row. Every constraint is checked again when it is made again; primary keys
    stay."""
    if connection.vendor != "postgresql":
        yield
        return
    rebuild: list[str] = []
    with connection.cursor() as cursor:
        for table in tables_of():
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype IN ('u', 'f')",
                [table],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                [table],
            )
            indexes = cursor.fetchall()
            for name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for name, definition in indexes:
                cursor.execute(f"DROP INDEX {name}")
                rebuild.append(definition)
    yield
    started = time.monotonic()
    with connection.cursor() as cursor:
        # The foreign keys' deferred checks first: a table with checks pending cannot be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for statement in rebuild:
            cursor.execute(statement)
    WRITE_SECONDS["(foreign keys checked, indexes built again)"] = time.monotonic() - started


def _seeded() -> list:
    base = [get_user_model(), ChatGroup, Membership, Hold, Cycle, Obligation, Flag, SentEmail, LedgerEntry]
    return [*base, SentEmail.flags.through, *(m.history.model for m in base if hasattr(m, "history"))]


def _analyse() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Outside a transaction: VACUUM sets the visibility map, so counts can be index-only.
            # The counts kept by triggers too: every obligation written updated its cycle's
            # row, so half their rows are dead until a vacuum, and a copy of this database
            # (`createdb -T`) starts with no statistics to make autovacuum come.
            for model in [*_seeded(), CycleCount, SentEmailCount]:
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


def _peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class HistoryInserter(Inserter):
    """Rows of a model's simple-history table: the model's fields, then when, why, how and who."""

    def __init__(self, model, fields: Sequence[str]):
        historical = model.history.model
        super().__init__(historical, ["id", *fields[1:]])
        self.columns += ["history_date", "history_change_reason", "history_type", "history_user_id"]


OBLIGATION_FIELDS = ["id", "cycle", "user", "status", "due_at", "attested_at", "cleared_on", "confirmed_cleared",
                     "confirmed_saved", "channel", "where_saved", "excused_by", "excused_at", "excuse_reason",
                     "prompt_emailed_at", "reminder_sent_at"]  # fmt: skip
CYCLE_FIELDS = ["id", "group", "period_start", "period_end", "prompt_due_at", "due_at", "prompted_at", "prompted_by",
                "hold", "created_at"]  # fmt: skip
HOLD_FIELDS = ["id", "group", "reference", "reason", "placed_by", "placed_at", "lifted_by", "lifted_at",
               "lift_reason", "timer_off_required"]  # fmt: skip
FLAG_FIELDS = ["id", "kind", "cycle", "group", "user", "raised_at", "notified_at", "escalated_at", "resolved_at"]
EMAIL_FIELDS = ["id", "key", "kind", "user", "to_address", "subject", "group", "cycle", "obligation", "created_at",
                "sent_at", "status", "attempted_at", "attempts", "error", "queued_at", "retry_later"]  # fmt: skip
LEDGER_FIELDS = ["sequence", "obligation", "prev_hash", "hash", "payload_version", "recorded_at"]


# Seconds spent writing each table, printed at the end.
WRITE_SECONDS: dict[str, float] = {}


class Batch:
    """The rows of a batch of groups, table by table, written parents first."""

    def __init__(self):
        self.holds, self.hold_history, self.cycles, self.cycle_history = [], [], [], []
        self.obligations, self.obligation_history, self.flags, self.ledger = [], [], [], []
        self.emails, self.email_flags = [], []

    def flush(self) -> dict[str, int]:
        flag_rows = self.flags
        # A flag's history: raised by the sweep, then settled when the member or admin acted.
        flag_history = [(*f[:6], None, None, None, f[5], "Raised", "+", None) for f in flag_rows]
        flag_history += [(*f, f[8], "Settled: attested, excused or held", "~", None) for f in flag_rows if f[8]]
        writes = [
            ("holds", Inserter(Hold, HOLD_FIELDS), self.holds),
            ("", HistoryInserter(Hold, HOLD_FIELDS), self.hold_history),
            ("cycles", Inserter(Cycle, CYCLE_FIELDS), self.cycles),
            ("", HistoryInserter(Cycle, CYCLE_FIELDS), self.cycle_history),
            ("obligations", Inserter(Obligation, OBLIGATION_FIELDS), self.obligations),
            ("", HistoryInserter(Obligation, OBLIGATION_FIELDS), self.obligation_history),
            ("flags", Inserter(Flag, FLAG_FIELDS), flag_rows),
            ("", HistoryInserter(Flag, FLAG_FIELDS), flag_history),
            ("ledger entries", Inserter(LedgerEntry, LEDGER_FIELDS), self.ledger),
            ("emails", Inserter(SentEmail, EMAIL_FIELDS), self.emails),
            ("", FlagLinkInserter(), self.email_flags),
        ]
        counts = {"history rows": 0}
        for name, inserter, rows in writes:
            started = time.monotonic()
            n = inserter.write(rows) if rows else 0
            table = inserter.table
            WRITE_SECONDS[table] = WRITE_SECONDS.get(table, 0.0) + time.monotonic() - started
            counts[name or "history rows"] = counts.get(name or "history rows", 0) + n
        counts.pop("", None)
        self.__init__()
        return counts


class FlagLinkInserter(Inserter):
    """The flags each digest or escalation reports (SentEmail.flags)."""

    def __init__(self):
        through = SentEmail.flags.through
        super().__init__(through, ["sentemail", "flag"])


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
        counts["memberships"] = self.n_memberships
        counts["holds"] = self.make_holds()
        counts.update(self.make_cycles_and_obligations())
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
            name = group["name"] = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i + 1:04d}"
            rows.append(
                (pk, name, "Short-term coordination of urgent work; decisions are filed in corporate systems.", "",
                 admin, deputy, status, "" if status in ("proposed", "approved") else "Scale data", weekday, at,
                 admin, None if status == "proposed" else self.dpo_id,
                 None if status == "proposed" else approved_at, approved_at - dt.timedelta(days=3), approved_at,
                 "manual", "weekly")
            )  # fmt: skip
        fields = ["id", "name", "purpose", "logo", "admin", "deputy", "status", "status_reason", "cycle_weekday",
                  "cycle_time", "proposed_by", "approved_by", "approved_at", "created_at", "updated_at",
                  "clear_mode", "timer_check"]  # fmt: skip
        n = Inserter(ChatGroup, fields).write(rows)
        # As the services wrote them: proposed by the admin, then decided by the DPO.
        proposed = ((*r[:6], "proposed", "", *r[8:11], None, None, r[13], r[13], *r[15:17],
                     r[13], "Proposed", "+", r[4]) for r in rows)  # fmt: skip
        decided = ((*r, r[14], f"Status: {r[6]}", "~", self.dpo_id) for r in rows if r[6] != "proposed")
        HistoryInserter(ChatGroup, fields).write(itertools.chain(proposed, decided))
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
                schedule = self.periods_of(group["weekday"], group["at"])
                if first > 0:  # joined during the period before their first owed one
                    start, end = schedule[first][0], schedule[first][1]
                    joined = start + (end - start) / 2
                if last < weeks:  # left a day after their last owed period ended
                    left = schedule[last - 1][1] + dt.timedelta(days=1) if last > 0 else joined + HOUR
                admin = group["admin"]
                rows.append((pk, group["pk"], user, joined, left, admin, admin if left else None))
                pk += 1
        fields = ["id", "group", "user", "joined_at", "left_at", "added_by", "removed_by"]
        Inserter(Membership, fields).write(rows)
        added = ((*r[:4], None, r[5], None, r[3], "Member added", "+", r[5]) for r in rows)
        removed = ((*r, r[4], "Member removed", "~", r[5]) for r in rows if r[4])
        HistoryInserter(Membership, fields).write(itertools.chain(added, removed))
        self.n_memberships = len(rows)
        self.log(f"{len(rows):,} memberships")

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
        # Written with their group's cycles.
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

    def make_cycles_and_obligations(self) -> dict[str, int]:
        """Cycles, obligations, flags, emails, ledger and history, written a batch of groups
        at a time: memory holds one batch, never the year."""
        self.ids = {
            "cycle": _next_id(Cycle),
            "obligation": _next_id(Obligation),
            "flag": _next_id(Flag),
            "email": _next_id(SentEmail),
        }
        head = LedgerEntry.objects.order_by("-sequence").values_list("sequence", "hash").first()
        self.ledger_seq, self.ledger_prev = head if head else (0, ledger.GENESIS)
        cumulative, acc = [], 0.0
        for profile in PROFILES:
            acc += profile[0]
            cumulative.append((acc, profile))
        self.profile_of: dict[int, tuple] = {}
        self.cumulative_profiles = cumulative
        totals: dict[str, int] = {}
        batch = Batch()
        for n, group in enumerate(self.groups, start=1):
            self.group_year(group, batch)
            if n % BATCH_GROUPS == 0 or n == len(self.groups):
                for name, count in batch.flush().items():
                    totals[name] = totals.get(name, 0) + count
                self.log(f"{n:,} of {len(self.groups):,} groups: {totals.get('obligations', 0):,} obligations, "
                         f"{totals.get('emails', 0):,} emails, peak {_peak_mb():.0f} MB")  # fmt: skip
        # The DPO's weekly summary, one a week.
        summaries = Batch()
        monday = self.periods_of(0, dt.time(7))
        for _, end, _, _ in monday:
            if end <= self.now:
                self.email(summaries, "dpo_summary", f"dpo-summary:{end:%Y%m%d}:u{self.dpo_id}", self.dpo_id, None,
                           None, None, end, "Weekly clear-down summary")  # fmt: skip
        summaries.flush()
        totals["emails"] = totals.get("emails", 0) + len(monday)
        return totals

    def profile(self, user: int) -> tuple:
        if user not in self.profile_of:
            roll = self.rng.random()
            self.profile_of[user] = next((p for limit, p in self.cumulative_profiles if roll < limit), PROFILES[0])
        return self.profile_of[user]

    def next_id(self, name: str) -> int:
        pk = self.ids[name]
        self.ids[name] = pk + 1
        return pk

    def address(self, user: int) -> str:
        if user == self.dpo_id:
            return "scale-dpo@example.org"
        if user == self.auditor_id:
            return "scale-auditor@example.org"
        return f"staff{user - self.dpo_id - 1:05d}@example.org"

    def email(self, batch, kind, key, user, group, cycle, obligation, at, subject, flags=()) -> int:
        """One SentEmail as the outbox writes it: most sent within a minute, a few failed for good."""
        pk = self.next_id("email")
        roll = self.rng.random()
        if at > self.now - dt.timedelta(minutes=2):
            status, sent, attempted, attempts, error = "pending", None, None, 0, ""
        elif roll < FAILED_SHARE:
            status, sent, attempts = "failed", None, 4
            attempted = at + dt.timedelta(minutes=self.rng.randint(3, 30))
            error = "SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable"
        else:
            status, sent, attempted, attempts, error = "sent", at + dt.timedelta(seconds=20), at, 1, ""
            attempted = at + dt.timedelta(seconds=20)
        batch.emails.append((pk, key, kind, user, self.address(user), subject, group, cycle, obligation, at, sent,
                             status, attempted, attempts, error, at, False))  # fmt: skip
        for flag in flags:
            batch.email_flags.append((pk, flag))
        return pk

    def group_year(self, group: dict, batch: Batch) -> None:
        rng, now = self.rng, self.now
        if group["status"] == "proposed":
            return
        schedule = self.periods_of(group["weekday"], group["at"])
        n_cycles = self.n_weeks - group["stopped"]
        hold = group["hold"]
        hold_placed = hold_lifted = None
        gpk, admin, name = group["pk"], group["admin"], group["name"]
        if hold:
            pw = min(hold["placed_week"], self.n_weeks - 1)
            hold_placed = schedule[pw][1] + dt.timedelta(hours=20)  # the day after a period ended
            hold_placed = min(hold_placed, now - HOUR)
            if hold["lifted_week"] is not None:
                lw = min(hold["lifted_week"], self.n_weeks - 1)
                hold_lifted = min(schedule[lw][1] + dt.timedelta(hours=30), now - HOUR)
                if hold_lifted < hold_placed:
                    hold_lifted = hold_placed
            ref = f"FOI-{gpk:05d}"
            reason = "An FOI request covers these messages."
            row = (hold["pk"], gpk, ref, reason, self.dpo_id, hold_placed,
                   self.dpo_id if hold_lifted else None, hold_lifted,
                   "Request answered." if hold_lifted else "", False)  # fmt: skip
            batch.holds.append(row)
            placed = (*row[:6], None, None, "", False)
            batch.hold_history.append((*placed, hold_placed, f"Hold placed: {ref}", "+", self.dpo_id))
            if hold_lifted:
                batch.hold_history.append((*row, hold_lifted, "Hold lifted: Request answered.", "~", self.dpo_id))
            for m in group["members"]:
                if m["first"] <= pw < m["last"]:
                    self.email(batch, "hold_notice", f"hold-notice:h{hold['pk']}:u{m['user']}", m["user"], gpk, None,
                               None, hold_placed, f"Do not clear {name}: information must be kept")  # fmt: skip
                    if rng.random() < 0.1 and hold_placed + dt.timedelta(days=1) < now:
                        self.email(batch, "hold_reminder", f"hold-reminder:h{hold['pk']}:u{m['user']}", m["user"],
                                   gpk, None, None, hold_placed + dt.timedelta(days=1),
                                   f"Reminder: do not clear {name}")  # fmt: skip
                    if hold_lifted:
                        self.email(batch, "hold_release", f"hold-release:h{hold['pk']}:u{m['user']}", m["user"],
                                   gpk, None, None, hold_lifted, f"Clear-downs of {name} resume")  # fmt: skip
            if hold_placed + dt.timedelta(days=2) < now:
                self.email(batch, "hold_escalation", f"hold-escalation:h{hold['pk']}:u{self.dpo_id}", self.dpo_id,
                           gpk, None, None, hold_placed + dt.timedelta(days=2),
                           f"Hold notice of {name} not acknowledged")  # fmt: skip
            if (hold_lifted or now) - hold_placed > dt.timedelta(days=90):
                self.email(batch, "hold_review", f"hold-review:h{hold['pk']}:u{self.dpo_id}", self.dpo_id, gpk,
                           None, None, hold_placed + dt.timedelta(days=90), f"Review the hold on {name}")  # fmt: skip
        for m in group["members"]:
            if m["last"] < self.n_weeks and rng.random() < 0.05:
                left = schedule[m["last"] - 1][1] + dt.timedelta(days=1) if m["last"] > 0 else now - HOUR
                self.email(batch, "admin_left", f"admin-left:g{gpk}:u{m['user']}:{left:%Y%m%d}", self.dpo_id, gpk,
                           None, None, min(left, now - HOUR), f"A member of {name} left the organisation")  # fmt: skip
        for week in range(n_cycles):
            start, end, prompt_due, due = schedule[week]
            # Under a hold from before this period ended: recorded, nothing owed (R9).
            under_hold = hold_placed is not None and hold_placed <= end and (hold_lifted is None or hold_lifted > end)
            # Open when the hold came: what was not yet done became held.
            held_at_placement = hold_placed is not None and end < hold_placed < due
            cycle = self.next_id("cycle")
            created = end + dt.timedelta(minutes=5)
            prompted_at = None
            cycle_flags: list[tuple] = []
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
                    cycle_flags.append((self.next_id("flag"), "prompt_missed", cycle, gpk, admin, raised,
                                        raised + dt.timedelta(minutes=5), None, prompted_at))  # fmt: skip
            hold_id = hold["pk"] if (under_hold or held_at_placement) else None
            row = (cycle, gpk, start, end, prompt_due, due, prompted_at, admin if prompted_at else None, hold_id,
                   created)  # fmt: skip
            batch.cycles.append(row)
            batch.cycle_history.append((*row[:6], None, None, hold_id if under_hold else None, created, created,
                                        "Period ended", "+", None))  # fmt: skip
            if prompted_at:
                batch.cycle_history.append((*row, prompted_at, "Prompt issued", "~", admin))
            if under_hold:
                batch.flags.extend(cycle_flags)
                continue
            emailed = prompted_at + dt.timedelta(minutes=1) if prompted_at else None
            reminder_at = due - dt.timedelta(hours=24)
            for m in group["members"]:
                if not (m["first"] <= week < m["last"]):
                    continue
                self.obligation(batch, m["user"], cycle, gpk, admin, name, end, due, emailed, reminder_at,
                                hold_placed if held_at_placement else None, cycle_flags)  # fmt: skip
            overdue = [f for f in cycle_flags if f[1] == "member_overdue"]
            if overdue:
                first = min(f[0] for f in overdue)
                self.email(batch, "admin_digest", f"admin-digest:c{cycle}:f{first}:u{admin}", admin, gpk, cycle, None,
                           overdue[0][6], f"Overdue clear-downs in {name}", flags=[f[0] for f in overdue])  # fmt: skip
            escalated = [f for f in cycle_flags if f[7] is not None]
            if escalated:
                first = min(f[0] for f in escalated)
                self.email(batch, "dpo_escalation", f"dpo-escalation:f{first}:u{self.dpo_id}", self.dpo_id, None, None,
                           None, escalated[0][7], "Clear-downs overdue for 72 hours",
                           flags=[f[0] for f in escalated])  # fmt: skip
            batch.flags.extend(cycle_flags)

    def obligation(self, batch, user, cycle, gpk, admin, name, end, due, emailed, reminder_at, held_from, flags):
        rng, now = self.rng, self.now
        _, p_on_time, p_late, p_overdue, p_excused = self.profile(user)
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
            # Most attest soon after the period ends; fewer as the deadline nears.
            attested_at = end + dt.timedelta(minutes=int(rng.triangular(20, 47 * 60, 20)))
            status = "attested"
        if attested_at is not None and attested_at > now:
            status, attested_at = "pending", None
        if held_from is not None and (attested_at is None or attested_at > held_from) and not excused:
            status, attested_at = "held", None
        pk = self.next_id("obligation")
        reminded = None
        if (
            status not in ("held", "excused")
            and reminder_at <= now
            and (attested_at is None or attested_at > reminder_at)
        ):
            reminded = reminder_at
        created = end + dt.timedelta(minutes=5)
        new = (pk, cycle, user, "pending", due, None, None, False, False, "", "", None, None, "", None, None)
        batch.obligation_history.append((*new, created, "Period ended", "+", None))
        if emailed:
            self.email(batch, "prompt", f"prompt:o{pk}", user, gpk, cycle, pk, emailed,
                       f"Clear the {name} chat by {due:%-d %b}")  # fmt: skip
        if reminded:
            self.email(batch, "reminder", f"reminder:o{pk}", user, gpk, cycle, pk, reminded,
                       f"Reminder: clear the {name} chat")  # fmt: skip
        if status in ("attested", "late"):
            channel = "email" if rng.random() < 0.4 else "web"
            row = (pk, cycle, user, status, due, attested_at, attested_at.astimezone(periods.LONDON).date(), True, True,
                   channel, "", None, None, "", emailed, reminded)  # fmt: skip
            reason = "Late attestation received" if status == "late" else f"Attested ({channel} link)"
            batch.obligation_history.append((*row, attested_at, reason, "~", user))
            self.chain(batch, row, attested_at)
        elif excused:
            by = admin if user != admin else self.dpo_id
            row = (pk, cycle, user, status, due, None, None, False, False, "", "", by, end + HOUR, "Annual leave",
                   emailed, reminded)  # fmt: skip
            batch.obligation_history.append((*row, end + HOUR, "Excused: Annual leave", "~", by))
        else:
            row = (pk, cycle, user, status, due, None, None, False, False, "", "", None, None, "", emailed, reminded)
            if status == "held":
                batch.obligation_history.append((*row, held_from, "Hold placed", "~", self.dpo_id))
        batch.obligations.append(row)
        # The overdue sweep runs every 15 minutes: a flag for what was still open.
        raised = due + dt.timedelta(minutes=15)
        if status in ("pending", "late") and raised <= now and (attested_at is None or attested_at > raised):
            escalated = raised + dt.timedelta(hours=72) if attested_at is None else None
            if escalated is not None and escalated > now:
                escalated = None
            flags.append((self.next_id("flag"), "member_overdue", cycle, gpk, user, raised,
                          raised + dt.timedelta(minutes=5), escalated, attested_at))  # fmt: skip

    def chain(self, batch, row, attested_at) -> None:
        """The attestation's ledger entry, hashed as `ledger.ledger_append` does."""
        pk, cycle, user, status, due, attested, cleared_on, cleared, saved, channel = row[:10]
        self.ledger_seq += 1
        payload = ledger.payload_of(pk, user, cycle, status, cleared_on, attested, cleared, saved, channel, due)
        digest = ledger.entry_hash(sequence=self.ledger_seq, prev_hash=self.ledger_prev, payload=payload)
        batch.ledger.append((self.ledger_seq, pk, self.ledger_prev, digest, ledger.PAYLOAD_VERSION, attested_at))
        self.ledger_prev = digest

    def reset_sequences(self) -> None:
        models = _seeded()
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)
