"""The retention schedule the portal obeys for its own records (R18).

`settings.RETENTION` says how many days each kind of record is kept; this module says from
when (the moment the record stopped mattering: a week's deadline, a flag's settling, a
hold's lift), finds what has passed its time and disposes of it.

- **Holds first** (R9, FOI Act 2000 s.77): nothing of a group under a standing hold is
  touched, and a hold lifted less than a period ago still keeps that period's records of its
  group (the clock of a record a hold covered starts again at the lift). What a hold keeps
  past its time is counted as "held back" on the disposal record.
- **Short transactions**: each kind goes in batches of at most `RETENTION_BATCH_SIZE`
  records, by increasing id (keyset, so each batch reads only rows not yet visited), each in
  its own transaction with the rows that depend on it (history, ledger entries, the links of
  emails to flags). The deletes are plain `DELETE ... WHERE id IN (...)`: no signals, so no
  history row is written about a row disposed of, and the database's foreign keys still
  refuse to leave anything dangling.
- **The ledger stays verifiable**: an attestation's ledger entry goes with it, leaving a
  checkpoint (`ledger.ledger_dispose`).
- **A record of each run**: one `DisposalRecord` per kind per run (dry run or not), kept
  for good and exported to auditors.
- **One run at a time** (`Lock.RETENTION`): a run that finds another going does nothing;
  each batch also re-reads what is due under its own transaction, so even two runs that
  overlapped could only share the work out, never dispose of anything twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from opcc_portal import legal
from opcc_portal.lib.locking import Lock, run_alone

from . import ledger
from .models import (
    CalendarFeed,
    Cycle,
    DisposalRecord,
    ExportLog,
    Flag,
    Hold,
    HoldNotice,
    LedgerEntry,
    Obligation,
    SentEmail,
)

# --- Plain deletes -----------------------------------------------------------------------------


def _delete(model: type[models.Model], ids: list[int], column: str | None = None) -> int:
    """DELETE the rows of `model` whose `column` (the primary key) is in `ids`: no signals."""
    if not ids:
        return 0
    column = column or model._meta.pk.column
    table = connection.ops.quote_name(model._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    # Table and column names come from the models, quoted; the ids are parameters.
    sql = f"DELETE FROM {table} WHERE {connection.ops.quote_name(column)} IN ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        return cursor.rowcount


def _delete_with_history(model: type[models.Model], ids: list[int]) -> tuple[int, int]:
    """The rows and their django-simple-history rows: (rows, history rows)."""
    history = _delete(model.history.model, ids, "id") if hasattr(model, "history") else 0
    return _delete(model, ids), history


_EMAIL_FLAGS = SentEmail.flags.through


def _delete_emails(ids: list[int]) -> dict[str, int]:
    _delete(_EMAIL_FLAGS, ids, "sentemail_id")
    rows, history = _delete_with_history(SentEmail, ids)
    return {"emails": rows, "history rows": history}


def _delete_flags(ids: list[int]) -> dict[str, int]:
    _delete(_EMAIL_FLAGS, ids, "flag_id")
    rows, history = _delete_with_history(Flag, ids)
    return {"flags": rows, "history rows": history}


def _ids(queryset: models.QuerySet) -> list[int]:
    return list(queryset.order_by("pk").values_list("pk", flat=True))


def _dispose_obligations(ids: list[int], now: dt.datetime) -> dict[str, int]:
    # Rows first locked, then the ledger's lock inside `ledger_dispose`: the order in which
    # an attestation takes them, so a late attestation of the same week waits, never deadlocks.
    list(Obligation.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
    done = {"ledger entries": ledger.ledger_dispose(obligation_ids=ids, now=now)}
    emails = _delete_emails(_ids(SentEmail.objects.filter(obligation_id__in=ids)))
    rows, history = _delete_with_history(Obligation, ids)
    return _sum(done, emails, {"obligations": rows, "history rows": history})


def _dispose_cycles(ids: list[int], now: dt.datetime) -> dict[str, int]:
    flags = _delete_flags(_ids(Flag.objects.filter(cycle_id__in=ids)))
    emails = _delete_emails(_ids(SentEmail.objects.filter(cycle_id__in=ids)))
    # The cycle's dashboard counts go with it (a trigger on the cycle's delete).
    rows, history = _delete_with_history(Cycle, ids)
    return _sum(flags, emails, {"cycles": rows, "history rows": history})


def _dispose_holds(ids: list[int], now: dt.datetime) -> dict[str, int]:
    notices, notice_history = _delete_with_history(HoldNotice, _ids(HoldNotice.objects.filter(hold_id__in=ids)))
    rows, history = _delete_with_history(Hold, ids)
    return {"holds": rows, "hold notices": notices, "history rows": history + notice_history}


def _dispose_plain(name: str, model: type[models.Model]) -> Callable[[list[int], dt.datetime], dict[str, int]]:
    def dispose(ids: list[int], now: dt.datetime) -> dict[str, int]:
        rows, history = _delete_with_history(model, ids)
        return {name: rows, "history rows": history} if history else {name: rows}

    return dispose


def _sum(*parts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            if value:
                total[key] = total.get(key, 0) + value
    return total


# --- The schedule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One table a kind of record is disposed of from, in order."""

    name: str  # what its rows are called on the record ("obligations")
    model: type[models.Model]
    date: str  # the field its period is counted from
    dispose: Callable[[list[int], dt.datetime], dict[str, int]]
    groups: tuple[str, ...] = ()  # the paths to its group, for holds (empty: no group's record)
    only: Q = field(default_factory=Q)  # rows never disposed of whatever their age (open flags)
    # Rows that go with it, counted for a dry run: name -> a queryset of them from the candidates.
    with_it: tuple[tuple[str, Callable[[models.QuerySet], models.QuerySet]], ...] = ()


@dataclass(frozen=True)
class Rule:
    kind: str
    counted_from: str  # in words, for the page and the record
    steps: tuple[Step, ...]


RULES: dict[str, Rule] = {
    rule.kind: rule
    for rule in (
        Rule(
            "clear_downs",
            "the week's deadline",
            (
                Step(
                    "obligations",
                    Obligation,
                    "cycle__due_at",
                    _dispose_obligations,
                    groups=("cycle__group_id",),
                    with_it=(("ledger entries", lambda qs: LedgerEntry.objects.filter(obligation__in=qs)),),
                ),
                Step("cycles", Cycle, "due_at", _dispose_cycles, groups=("group_id",)),
            ),
        ),
        Rule(
            "emails",
            "when the email was made (not while it is still being sent)",
            (
                Step(
                    "emails",
                    SentEmail,
                    "created_at",
                    lambda ids, now: _delete_emails(ids),
                    groups=("group_id", "cycle__group_id", "obligation__cycle__group_id"),
                    only=~Q(status=SentEmail.Status.PENDING),
                ),
            ),
        ),
        Rule(
            "flags",
            "when the flag was settled (an open flag is kept)",
            (
                Step(
                    "flags",
                    Flag,
                    "resolved_at",
                    lambda ids, now: _delete_flags(ids),
                    groups=("group_id",),
                    only=Q(resolved_at__isnull=False),
                ),
            ),
        ),
        Rule(
            "holds",
            "the hold's lift (a standing hold is kept)",
            (
                Step(
                    "holds",
                    Hold,
                    "lifted_at",
                    _dispose_holds,
                    groups=("group_id",),
                    # A week the hold stopped still names it: the hold goes after the week.
                    only=Q(lifted_at__isnull=False)
                    & ~Q(pk__in=Cycle.objects.filter(hold__isnull=False).values("hold")),
                    with_it=(("hold notices", lambda qs: HoldNotice.objects.filter(hold__in=qs)),),
                ),
            ),
        ),
        Rule("register_history", "the change", ()),
        Rule(
            "export_logs",
            "the export",
            (Step("export logs", ExportLog, "started_at", _dispose_plain("export logs", ExportLog)),),
        ),
        Rule(
            "sign_ins",
            "the sign-in attempt",
            (
                Step("sign-in records", AccessLog, "attempt_time", _dispose_plain("sign-in records", AccessLog)),
                Step(
                    "failed sign-ins",
                    AccessFailureLog,
                    "attempt_time",
                    _dispose_plain("failed sign-ins", AccessFailureLog),
                ),
                Step(
                    "lock-out counters",
                    AccessAttempt,
                    "attempt_time",
                    _dispose_plain("lock-out counters", AccessAttempt),
                ),
            ),
        ),
        Rule(
            "calendar_feeds",
            "the closing of the person's account",
            (
                Step(
                    "calendar feeds",
                    CalendarFeed,
                    "user__staff_profile__deactivated_at",
                    _dispose_plain("calendar feeds", CalendarFeed),
                    only=Q(user__is_active=False),
                ),
            ),
        ),
    )
}


@dataclass
class Figures:
    """What one kind's rule disposes of at a moment: the next run's figures, or a run's."""

    kind: str
    label: str
    period: str
    counted_from: str
    days: int | None
    cutoff: dt.datetime | None = None
    count: int = 0
    details: dict[str, int] = field(default_factory=dict)
    held_back: int = 0
    oldest: dt.datetime | None = None
    newest: dt.datetime | None = None
    batches: int = 0
    longest_batch_ms: int = 0

    @property
    def rule(self) -> str:
        if self.days is None:
            return f"{self.label}: kept ({self.period.lower()})"
        return f"{self.label}: {self.period} after {self.counted_from}"

    @property
    def disposes(self) -> bool:
        return self.days is not None and bool(RULES[self.kind].steps)


# The order a run goes in: emails and flags under their own (shorter) rules before the
# clear-downs they are about, so each kind's record counts its own; holds after the weeks
# that name them.
DISPOSAL_ORDER = (
    "emails", "flags", "clear_downs", "holds", "export_logs", "sign_ins", "calendar_feeds", "register_history",
)  # fmt: skip


def schedule() -> list[Figures]:
    """Every kind of record with its period and from when it counts, in the run's order (no queries)."""
    rows = []
    for row in sorted(legal.retention_schedule(), key=lambda r: DISPOSAL_ORDER.index(r.kind)):
        days = settings.RETENTION.get(row.kind)
        period = row.period if days is not None else "Not disposed of"
        rows.append(Figures(row.kind, row.label, period, RULES[row.kind].counted_from, days))
    return rows


def held_groups(cutoff: dt.datetime) -> list[int]:
    """Groups whose records a hold still keeps: one standing, or lifted after `cutoff`."""
    return list(
        Hold.objects.filter(Q(lifted_at__isnull=True) | Q(lifted_at__gte=cutoff))
        .order_by()
        .values_list("group_id", flat=True)
        .distinct()
    )


def _due(step: Step, cutoff: dt.datetime) -> models.QuerySet:
    return step.model.objects.filter(step.only, **{f"{step.date}__lt": cutoff})


def _held(step: Step, held: list[int]) -> Q:
    q = Q(pk__in=[])
    for path in step.groups:
        q |= Q(**{f"{path}__in": held})
    return q


def _candidates(step: Step, cutoff: dt.datetime, held: list[int]) -> models.QuerySet:
    due = _due(step, cutoff)
    return due.exclude(_held(step, held)) if held and step.groups else due


def _measure(figures: Figures, step: Step, candidates: models.QuerySet) -> None:
    span = candidates.aggregate(oldest=Min(step.date), newest=Max(step.date))
    for key in ("oldest", "newest"):
        value = span[key]
        if value is not None:
            current = getattr(figures, key)
            pick = min if key == "oldest" else max
            setattr(figures, key, value if current is None else pick(current, value))


def retention_plan(*, now: dt.datetime) -> list[Figures]:
    """What a run at `now` would dispose of, kind by kind, and what holds keep back. Reads only."""
    plan = schedule()
    for figures in plan:
        if not figures.disposes:
            continue
        figures.cutoff = now - dt.timedelta(days=figures.days)
        held = held_groups(figures.cutoff)
        for step in RULES[figures.kind].steps:
            candidates = _candidates(step, figures.cutoff, held)
            n = candidates.count()
            figures.count += n
            figures.details[step.name] = figures.details.get(step.name, 0) + n
            for name, related in step.with_it:
                figures.details[name] = figures.details.get(name, 0) + related(candidates).count()
            if held and step.groups:
                figures.held_back += _due(step, figures.cutoff).filter(_held(step, held)).count()
            _measure(figures, step, candidates)
    return plan


def _dispose_kind(figures: Figures, *, now: dt.datetime, batch_size: int) -> None:
    for step in RULES[figures.kind].steps:
        last = 0
        while True:
            started = time.monotonic()
            with transaction.atomic():
                # Read again in each transaction: a hold placed since the last batch counts.
                held = held_groups(figures.cutoff)
                batch = _candidates(step, figures.cutoff, held).filter(pk__gt=last).order_by("pk")
                ids = list(batch.values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                _measure(figures, step, step.model.objects.filter(pk__in=ids))
                done = step.dispose(ids, now)
            figures.longest_batch_ms = max(figures.longest_batch_ms, round((time.monotonic() - started) * 1000))
            figures.batches += 1
            figures.count += done.get(step.name, 0)
            figures.details = _sum(figures.details, done)
            last = ids[-1]
        if figures.details.get(step.name) is None:
            figures.details[step.name] = 0
        held = held_groups(figures.cutoff)
        if held and step.groups:
            figures.held_back += _due(step, figures.cutoff).filter(_held(step, held)).count()


@dataclass
class Run:
    started_at: dt.datetime
    dry_run: bool
    records: list[DisposalRecord]
    skipped: bool = False  # another run was going


def retention_run(*, now: dt.datetime | None = None, dry_run: bool = False, batch_size: int | None = None) -> Run:
    """Dispose of every record past its time (or, dry, say what would go); record each kind.

    Safe to run twice or at once: see the module's docstring.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    with run_alone(Lock.RETENTION) as alone:
        if not alone:
            return Run(started_at=now, dry_run=dry_run, records=[], skipped=True)
        if dry_run:
            figures = [f for f in retention_plan(now=now) if f.disposes]
        else:
            figures = [f for f in schedule() if f.disposes]
            for f in figures:
                f.cutoff = now - dt.timedelta(days=f.days)
                _dispose_kind(f, now=now, batch_size=batch_size)
        finished = timezone.now()
        records = DisposalRecord.objects.bulk_create(
            DisposalRecord(
                run_started_at=now,
                kind=f.kind,
                rule=f.rule[:255],
                period_days=f.days,
                cutoff=f.cutoff,
                dry_run=dry_run,
                count=f.count,
                details=f.details,
                held_back=f.held_back,
                oldest=f.oldest,
                newest=f.newest,
                batches=f.batches,
                longest_batch_ms=f.longest_batch_ms,
                finished_at=max(finished, now),
            )
            for f in figures
        )
    return Run(started_at=now, dry_run=dry_run, records=records)


def disposal_records(*, limit: int = 50) -> list[DisposalRecord]:
    """The latest disposal records, newest run first, each with its kind's label (`.label`)."""
    records = list(DisposalRecord.objects.order_by("-run_started_at", "dry_run", "kind")[:limit])
    for record in records:
        record.label = legal.RETENTION_KINDS.get(record.kind, (record.kind,))[0]
    return records
