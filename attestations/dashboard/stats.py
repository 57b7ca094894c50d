"""Dashboard figures: set-based aggregates over the Obligation table.

Every selector here runs a fixed number of queries however many groups, people and cycles
there are; the database does the counting and Python only shapes a few dozen rows.

An obligation falls in exactly one bucket, judged at `now`:

- on time: attested by its deadline (status `attested`);
- late: attested after its deadline (status `late`);
- outstanding: not attested, deadline still ahead (`pending`, `due_at >= now`);
- overdue: not attested, deadline passed (`pending`, `due_at < now`: the test `flags_raise`
  uses, so a figure and its flag agree to the second);
- excused (R7), held (R9) and left (R14: the person left the organisation while it was
  open): nothing is owed, and nothing is overdue.

Percentages are of what is *owed*: everything except excused, held and left.

Scope: the DPO and auditors see every group; a group admin sees the groups they run as
admin or deputy. Every selector takes a `Scope` and applies it in SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Collate, Lower, TruncDate
from django.utils import timezone

from groups.models import ChatGroup, Membership
from opcc_portal.lib.text import display_name, full_name, percent

from .. import periods, stopped
from ..models import Cycle, CycleCount, Flag, Hold, Obligation

Status = Obligation.Status
WEEK = dt.timedelta(days=7)
STRIP_CYCLES = 8
MAX_RANGE_DAYS = 2 * 366

BUCKETS = ("on_time", "late", "outstanding", "overdue", "excused", "held", "left")
BUCKET_LABELS = {
    "on_time": "Attested on time",
    "late": "Attested late",
    "outstanding": "Outstanding",
    "overdue": "Overdue",
    "excused": "Excused",
    "held": "On hold",
    "left": "Left the organisation",
}


def bucket_q(bucket: str, *, now: dt.datetime, prefix: str = "") -> Q:
    """The condition of one bucket on Obligation (or, with a prefix, on a related obligation)."""
    p = f"{prefix}__" if prefix else ""
    conditions = {
        "on_time": {"status": Status.ATTESTED},
        "late": {"status": Status.LATE},
        "outstanding": {"status": Status.PENDING, "due_at__gte": now},
        "overdue": {"status": Status.PENDING, "due_at__lt": now},
        "excused": {"status": Status.EXCUSED},
        "held": {"status": Status.HELD},
        "left": {"status": Status.LEFT},
    }[bucket]
    return Q(**{p + key: value for key, value in conditions.items()})


COUNTS = ("n_pending", "n_attested", "n_late", "n_excused", "n_held", "n_left")  # of `CycleCount`


# --- Value objects -----------------------------------------------------------------------


def _pct(part: int, whole: int) -> float | None:
    return percent(part, whole, places=1)


@dataclass
class Tally:
    """Counts of obligations by bucket."""

    on_time: int = 0
    late: int = 0
    outstanding: int = 0
    overdue: int = 0
    excused: int = 0
    held: int = 0
    # Closed because the person left the organisation (R14): neither owed nor done.
    left: int = 0

    @classmethod
    def of_counts(cls, row: dict, *, now: dt.datetime, prefix: str = "") -> Tally:
        """A cycle's tally from its `CycleCount` values (`n_*`, and `due_at` to tell overdue
        from outstanding), read with an optional prefix (`counts__`)."""
        return cls.of_sums(row, overdue=row["due_at"] < now, prefix=prefix)

    @classmethod
    def of_sums(cls, row: dict, *, overdue: bool, prefix: str = "") -> Tally:
        """A tally of `CycleCount` values (`n_*`) whose pending clear-downs are `overdue`
        (their deadline has passed) or else outstanding."""
        pending = row[f"{prefix}n_pending"] or 0
        return cls(
            on_time=row[f"{prefix}n_attested"] or 0,
            late=row[f"{prefix}n_late"] or 0,
            outstanding=0 if overdue else pending,
            overdue=pending if overdue else 0,
            excused=row[f"{prefix}n_excused"] or 0,
            held=row[f"{prefix}n_held"] or 0,
            left=row[f"{prefix}n_left"] or 0,
        )

    def __iadd__(self, other: Tally) -> Tally:
        for bucket in BUCKETS:
            self.add(bucket, getattr(other, bucket))
        return self

    def add(self, bucket: str, n: int) -> None:
        setattr(self, bucket, getattr(self, bucket) + n)

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.outstanding + self.overdue + self.excused + self.held + self.left

    @property
    def owed(self) -> int:
        return self.total - self.excused - self.held - self.left

    @property
    def done(self) -> int:
        return self.on_time + self.late

    @property
    def pct_on_time(self) -> float | None:
        return _pct(self.on_time, self.owed)

    @property
    def pct_late(self) -> float | None:
        return _pct(self.late, self.owed)

    @property
    def pct_overdue(self) -> float | None:
        return _pct(self.overdue, self.owed)

    @property
    def pct_done(self) -> float | None:
        return _pct(self.done, self.owed)

    def items(self) -> list[tuple[str, str, int]]:
        return [(b, BUCKET_LABELS[b], getattr(self, b)) for b in BUCKETS]


@dataclass(frozen=True)
class Scope:
    """Which groups a viewer may see: all (`user_id` None) or those they run."""

    user_id: int | None = None

    @property
    def is_all(self) -> bool:
        return self.user_id is None

    def groups(self) -> QuerySet[ChatGroup]:
        groups = ChatGroup.objects.all()
        if self.user_id is not None:
            groups = groups.filter(Q(admin_id=self.user_id) | Q(deputy_id=self.user_id))
        return groups

    def q(self, path: str) -> Q:
        """A filter limiting rows whose group is reached by `path` (e.g. `cycle__group`)."""
        if self.user_id is None:
            return Q()
        return Q(**{f"{path}__admin_id": self.user_id}) | Q(**{f"{path}__deputy_id": self.user_id})


@dataclass(frozen=True)
class DateRange:
    """Whole days in UK time, both ends included; `start`/`end` are the UTC instants."""

    first: dt.date
    last: dt.date

    @classmethod
    def default(cls, *, today: dt.date | None = None, weeks: int = 26) -> DateRange:
        today = today or timezone.now().astimezone(periods.LONDON).date()
        monday = today - dt.timedelta(days=today.weekday())
        return cls(first=monday - dt.timedelta(weeks=weeks - 1), last=today)

    @property
    def start(self) -> dt.datetime:
        return periods.day_start(self.first)

    @property
    def end(self) -> dt.datetime:
        return periods.day_start(self.last + dt.timedelta(days=1))

    def week_starts(self) -> list[dt.date]:
        """Mondays of the weeks the range touches (UK time)."""
        monday = self.first - dt.timedelta(days=self.first.weekday())
        weeks = []
        while monday <= self.last:
            weeks.append(monday)
            monday += dt.timedelta(days=7)
        return weeks


# --- Headline figures ---------------------------------------------------------------------


def latest_counts(*, scope: Scope, end: dt.datetime) -> QuerySet[CycleCount]:
    """The counts of each group's "this cycle": its cycle that ended in the seven days up to
    `end`. Every approved group closes one period a week, so each has at most one (after a
    change of schedule, the later counts). Read from `CycleCount` alone, by
    `cyclecount_group_end_idx`."""
    later = CycleCount.objects.filter(
        group_id=OuterRef("group_id"), period_end__gt=OuterRef("period_end"), period_end__lte=end
    )
    return CycleCount.objects.filter(scope.q("group"), period_end__gt=end - WEEK, period_end__lte=end).filter(
        ~Exists(later)
    )


@dataclass
class Headline:
    approved: int
    cap: int
    proposed: int
    suspended: int
    retired: int
    active_holds: int
    members: int
    latest: Tally
    open_flags: int
    open_overdue_flags: int
    open_prompt_flags: int
    prompts_missed: int

    @property
    def over_cap(self) -> bool:
        return self.approved > self.cap

    @property
    def over_cap_by(self) -> int:
        return max(0, self.approved - self.cap)

    def as_tuple(self) -> tuple:
        """In the column order of HEADLINE_SQL."""
        t = self.latest
        return (
            self.approved, self.proposed, self.suspended, self.retired, self.active_holds, self.members,
            t.on_time, t.late, t.outstanding, t.overdue, t.excused, t.held, t.left,
            self.open_flags, self.open_overdue_flags, self.open_prompt_flags, self.prompts_missed,
        )  # fmt: skip


def headline(
    *, scope: Scope, dates: DateRange, now: dt.datetime | None = None, table: list[GroupRow] | None = None
) -> Headline:
    """The figures at the top of the dashboard.

    With the `table` the dashboard has already fetched, they are its sums plus one query for
    the people (someone in two groups counts once). Without it, four aggregate queries give
    the same figures directly, without building the table (the weekly summary, the
    benchmark). Tests hold the two ways to the same answers.
    """
    now = now or timezone.now()
    members = members_of_approved_groups(scope=scope)
    if table is None:
        return _headline_direct(scope=scope, dates=dates, now=now, members=members)
    counts = {value: 0 for value in ChatGroup.Status.values}
    latest = Tally()
    for row in table:
        counts[row.status] += 1
        latest += row.latest
    counts["active_holds"] = sum(1 for row in table if row.on_hold)
    flags = {
        "overdue": sum(row.open_overdue_flags for row in table),
        "prompt": sum(row.open_prompt_flags for row in table),
        "missed": sum(row.prompts_missed for row in table),
    }
    return _headline(groups=counts, members=members, latest=latest, flags=flags)


def members_of_approved_groups(*, scope: Scope) -> int:
    """How many people are members of an approved group in scope, someone in two counting
    once. `COUNT(DISTINCT …)`, which PostgreSQL answers faster than counting the rows of a
    `SELECT DISTINCT`."""
    members = Membership.objects.filter(left_at__isnull=True, group__status=ChatGroup.Status.APPROVED)
    return members.filter(scope.q("group")).aggregate(n=Count("user_id", distinct=True))["n"]


def _headline(*, groups: dict, members: int, latest: Tally, flags: dict) -> Headline:
    """Groups by status and `active_holds`; flags `overdue`, `prompt` (open) and `missed`."""
    return Headline(
        approved=groups[ChatGroup.Status.APPROVED],
        proposed=groups[ChatGroup.Status.PROPOSED],
        suspended=groups[ChatGroup.Status.SUSPENDED],
        retired=groups[ChatGroup.Status.RETIRED],
        cap=settings.MAX_APPROVED_GROUPS,
        active_holds=groups["active_holds"],
        members=members,
        latest=latest,
        open_flags=flags["overdue"] + flags["prompt"],
        open_overdue_flags=flags["overdue"],
        open_prompt_flags=flags["prompt"],
        prompts_missed=flags["missed"],
    )


def _headline_direct(*, scope: Scope, dates: DateRange, now: dt.datetime, members: int) -> Headline:
    """The headline in three more aggregate queries: groups, this cycle's counts, flags."""
    held = Hold.objects.standing_on("pk")
    groups = scope.groups().aggregate(
        **{status: Count("pk", filter=Q(status=status)) for status in ChatGroup.Status.values},
        active_holds=Count("pk", filter=Q(held)),
    )
    pending = {"overdue": Q(due_at__lt=now), "outstanding": Q(due_at__gte=now)}
    sums = latest_counts(scope=scope, end=dates.end).aggregate(
        on_time=Sum("n_attested"),
        late=Sum("n_late"),
        excused=Sum("n_excused"),
        held=Sum("n_held"),
        left=Sum("n_left"),
        **{bucket: Sum("n_pending", filter=condition) for bucket, condition in pending.items()},
    )
    open_ = Q(resolved_at__isnull=True)
    flags = Flag.objects.filter(scope.q("group")).aggregate(
        overdue=Count("pk", filter=open_ & Q(kind=Flag.Kind.MEMBER_OVERDUE)),
        prompt=Count("pk", filter=open_ & Q(kind=Flag.Kind.PROMPT_MISSED)),
        missed=Count("pk", filter=Q(kind=Flag.Kind.PROMPT_MISSED, raised_at__gte=dates.start, raised_at__lt=dates.end)),
    )
    latest = Tally(**{bucket: sums[bucket] or 0 for bucket in BUCKETS})
    return _headline(groups=groups, members=members, latest=latest, flags=flags)


# --- Trend ------------------------------------------------------------------------------


@dataclass
class Week:
    monday: dt.date
    tally: Tally = field(default_factory=Tally)

    @property
    def iso(self) -> str:
        """The Monday as the `week` filter of the clear-downs list takes it (2026-03-30)."""
        return self.monday.isoformat()


class WeekOf(Func):
    """The number of the week a datetime falls in, given when each week after the first
    starts (in order): 0 before the first of those, 1 from it until the next, and so on, as
    `bisect.bisect_right` counts. PostgreSQL's `width_bucket` over an array of the starts;
    elsewhere a `CASE` of one comparison a week. One expression with one list of values,
    not a `When(Q(…))` a week: twenty-six filters resolved by name cost more to build than
    the query costs to run."""

    output_field = IntegerField()

    def __init__(self, expression, *, starts: list[dt.datetime]):
        self.starts = list(starts)
        super().__init__(expression)

    def as_sql(self, compiler, connection, **extra_context):
        if not self.starts:  # one week in all
            return "0", []
        column, params = compiler.compile(self.source_expressions[0])
        starts = [connection.ops.adapt_datetimefield_value(start) for start in self.starts]
        whens = " ".join(f"WHEN {column} < %s THEN {i}" for i in range(len(starts)))
        return f"CASE {whens} ELSE {len(starts)} END", [p for start in starts for p in (*params, start)]

    def as_postgresql(self, compiler, connection, **extra_context):
        if not self.starts:
            return self.as_sql(compiler, connection, **extra_context)
        column, params = compiler.compile(self.source_expressions[0])
        return f"width_bucket({column}, %s::timestamptz[])", [*params, self.starts]


def trend(*, scope: Scope, dates: DateRange, now: dt.datetime | None = None) -> list[Week]:
    """Weekly completion by the week (Mon–Sun, UK time) a deadline falls in, for every week
    the range touches.

    One query over the cycles' counts (`CycleCount`, kept by triggers, `cyclecount_due_idx`),
    summed in SQL by the week of each deadline and whether it has passed: a row or two a
    week, however many groups and schedules. Every obligation has its cycle's deadline, so
    this is the week of each obligation's deadline too.
    """
    now = now or timezone.now()
    weeks = [Week(monday=monday) for monday in dates.week_starts()]
    if not weeks:
        return []
    first = periods.local_to_utc(weeks[0].monday, dt.time(0))
    # Whole weeks: the last one runs to its Sunday, so this week's deadlines still ahead
    # show as outstanding.
    last = periods.local_to_utc(weeks[-1].monday + WEEK, dt.time(0))
    starts = [periods.local_to_utc(w.monday, dt.time(0)) for w in weeks[1:]]
    rows = (
        CycleCount.objects.filter(scope.q("group"), due_at__gte=first, due_at__lt=last)
        .values(
            week=WeekOf("due_at", starts=starts),
            passed=ExpressionWrapper(Q(due_at__lt=now), output_field=BooleanField()),
        )
        .annotate(**{n: Sum(n) for n in COUNTS})
        .order_by()
    )
    for row in rows:
        weeks[row["week"]].tally += Tally.of_sums(row, overdue=row["passed"])
    return weeks


def _bucket_of(status: str, due_at: dt.datetime, now: dt.datetime) -> str:
    if status == Status.PENDING:
        return "overdue" if due_at < now else "outstanding"
    return {
        Status.ATTESTED: "on_time",
        Status.LATE: "late",
        Status.EXCUSED: "excused",
        Status.HELD: "held",
        Status.LEFT: "left",
    }[status]


def mark_bucket(obligation: Obligation, *, now: dt.datetime) -> Obligation:
    """Set `bucket` and `bucket_label` on an obligation, for display."""
    obligation.bucket = _bucket_of(obligation.status, obligation.due_at, now)
    obligation.bucket_label = BUCKET_LABELS[obligation.bucket]
    return obligation


# --- Per-group table --------------------------------------------------------------------


@dataclass
class GroupRow:
    """One line of the per-group table (plain values: a thousand rows build in no time)."""

    pk: int
    name: str
    status: str
    status_changed_at: dt.datetime | None
    admin_name: str
    admin_sort: tuple
    deputy_name: str
    members: int
    last_prompt_at: dt.datetime | None
    on_hold: bool
    latest_id: int | None = None
    latest: Tally = field(default_factory=Tally)
    open_overdue_flags: int = 0
    open_prompt_flags: int = 0
    prompts_missed: int = 0
    strip: list = field(default_factory=list)
    url: str = ""  # of its drill-down, set by the view for the rows it shows

    @property
    def status_label(self) -> str:
        return ChatGroup.Status(self.status).label

    @property
    def stopped_since(self) -> str:
        """The status and its date, as "Suspended on …": its clear-downs are still owed (R13)."""
        return stopped.stopped_since(self)

    @property
    def open_flags(self) -> int:
        return self.open_overdue_flags + self.open_prompt_flags

    @property
    def needs_attention(self) -> bool:
        """An open flag (overdue member, or prompt not issued), or clear-downs overdue now."""
        return self.open_flags > 0 or self.latest.overdue > 0


SORTS = {
    # key: (column label, sort key of a row)
    "name": ("Group", lambda r: r.name.lower()),
    "status": ("Status", lambda r: r.status_label),
    "admin": ("Admin", lambda r: r.admin_sort),
    "members": ("Members", lambda r: r.members),
    "prompt": ("Last prompt", lambda r: r.last_prompt_at.timestamp() if r.last_prompt_at else None),
    "done": ("This cycle", lambda r: r.latest.pct_done),
    "flags": ("Open flags", lambda r: r.open_flags),
}


def _count_of(queryset: QuerySet, key: str) -> Coalesce:
    """A correlated COUNT(*) of `queryset` (already filtered on an OuterRef), as an integer.
    COUNT(*), not of a column: an index that holds the filter's columns answers it alone."""
    return Coalesce(
        Subquery(queryset.order_by().values(key).annotate(n=Count("*")).values("n")[:1]),
        0,
        output_field=IntegerField(),
    )


def group_table(*, scope: Scope, dates: DateRange, now: dt.datetime | None = None) -> list[GroupRow]:
    """Every group in scope with its figures. Three queries, whatever the number of groups.

    1. the groups, with members, last prompt and hold (one index probe each per group:
       `membership_group_left_idx`, `cycle_group_end_idx`);
    2. this cycle's counts of each group (`latest_counts`, from `CycleCount` alone);
    3. flags per group: open ones, and prompts missed in the range (`Flag.group`, no join).

    Filtering and sorting happen in Python: the register is capped (R3), so there are
    at most a few thousand rows, and every figure is then available to sort on.
    """
    now = now or timezone.now()
    groups = (
        scope.groups()
        .annotate(
            n_members=_count_of(Membership.objects.filter(group_id=OuterRef("pk"), left_at__isnull=True), "group_id"),
            last_prompt_at=Subquery(
                Cycle.objects.filter(group_id=OuterRef("pk"), prompted_at__isnull=False)
                .order_by("-period_end")
                .values("prompted_at")[:1]
            ),
            on_hold=Hold.objects.standing_on("pk"),
        )
        .order_by(Lower("name"), "pk")
        .values_list(
            "pk",
            "name",
            "status",
            "status_changed_at",
            "n_members",
            "last_prompt_at",
            "on_hold",
            "admin__username",
            "admin__first_name",
            "admin__last_name",
            "deputy__username",
            "deputy__first_name",
            "deputy__last_name",
        )  # fmt: skip
    )
    rows = {}
    for pk, name, status, status_changed_at, members, last_prompt_at, on_hold, *people in groups:
        admin_username, admin_first, admin_last, deputy_username, deputy_first, deputy_last = people
        rows[pk] = GroupRow(
            pk=pk,
            name=name,
            status=status,
            status_changed_at=status_changed_at,
            admin_name=full_name(admin_username, admin_first, admin_last),
            admin_sort=(admin_last.lower(), admin_first.lower(), admin_username),
            deputy_name=full_name(deputy_username, deputy_first, deputy_last) if deputy_username else "",
            members=members,
            last_prompt_at=last_prompt_at,
            on_hold=on_hold,
        )
    for counts in latest_counts(scope=scope, end=dates.end).values("group_id", "cycle_id", "due_at", *COUNTS):
        row = rows.get(counts["group_id"])
        if row is not None:  # None: a group made between the two queries
            row.latest_id, row.latest = counts["cycle_id"], Tally.of_counts(counts, now=now)
    missed = Q(kind=Flag.Kind.PROMPT_MISSED, raised_at__gte=dates.start, raised_at__lt=dates.end)
    flags = (
        Flag.objects.filter(scope.q("group"))
        .filter(Q(resolved_at__isnull=True) | missed)
        .values("group_id")
        .annotate(
            open_overdue=Count("pk", filter=Q(resolved_at__isnull=True, kind=Flag.Kind.MEMBER_OVERDUE)),
            open_prompt=Count("pk", filter=Q(resolved_at__isnull=True, kind=Flag.Kind.PROMPT_MISSED)),
            missed=Count("pk", filter=missed),
        )
        .order_by()
    )
    for counts in flags:
        row = rows.get(counts["group_id"])
        if row is not None:
            row.open_overdue_flags, row.open_prompt_flags = counts["open_overdue"], counts["open_prompt"]
            row.prompts_missed = counts["missed"]
    return list(rows.values())


def filter_table(
    table: list[GroupRow],
    *,
    status: str = "",
    attention: bool = False,
    held: bool = False,
    sort: str = "done",
    descending: bool = False,
) -> list[GroupRow]:
    """The rows the filters keep, sorted; ties by name. Worst first by default."""
    rows = [
        row
        for row in table
        if (not status or row.status == status) and (not attention or row.needs_attention) and (not held or row.on_hold)
    ]
    key = SORTS.get(sort, SORTS["done"])[1]
    rows.sort(key=lambda r: r.name.lower())  # ties keep name order: the sorts are stable
    present = [r for r in rows if key(r) is not None]
    present.sort(key=key, reverse=descending)
    return present + [r for r in rows if key(r) is None]  # no figure: last either way


# --- The per-group table, a page at a time in SQL --------------------------------------------


def _latest_of_group(end: dt.datetime) -> QuerySet[CycleCount]:
    """The counts of the outer group's "this cycle" (as `latest_counts`): its latest cycle
    that ended in the seven days up to `end`. One probe of `cyclecount_group_end_idx`."""
    return CycleCount.objects.filter(group_id=OuterRef("pk"), period_end__gt=end - WEEK, period_end__lte=end).order_by(
        "-period_end"
    )


def _table_rows(*, scope: Scope, dates: DateRange, now: dt.datetime) -> QuerySet[ChatGroup]:
    """Every group in scope with every figure of its table row as a column, so that the
    database filters, sorts, pages and sums the table.

    This cycle's counts come from one join per group (`this_cycle`, the cycle that
    `_latest_of_group` finds, and its `CycleCount`), so that the sort keys, filters and
    window sums that use them read columns instead of repeating a probe each time they
    name one. The other figures are a correlated probe of one index per group (members,
    last prompt, hold, flags)."""
    end = dates.end
    flags = Flag.objects.filter(group_id=OuterRef("pk"))
    open_flags = flags.filter(resolved_at__isnull=True)
    rows = scope.groups().alias(
        latest_probe=Subquery(_latest_of_group(end).values("cycle_id")[:1]),
        this_cycle=FilteredRelation(
            "cycle_counts",
            # The window repeats the probe's, so that the probe is compared with the cycle
            # or two of each group that ended that week, not with a year of its cycles.
            condition=Q(
                cycle_counts__period_end__gt=end - WEEK,
                cycle_counts__period_end__lte=end,
                cycle_counts__cycle_id=F("latest_probe"),
            ),
        ),
    )
    rows = rows.annotate(
        n_members=_count_of(Membership.objects.filter(group_id=OuterRef("pk"), left_at__isnull=True), "group_id"),
        last_prompt_at=Subquery(
            Cycle.objects.filter(group_id=OuterRef("pk"), prompted_at__isnull=False)
            .order_by("-period_end")
            .values("prompted_at")[:1]
        ),
        on_hold=Hold.objects.standing_on("pk"),
        latest_id=F("this_cycle__cycle_id"),
        latest_due_at=F("this_cycle__due_at"),
        **{f"latest_{n}": Coalesce(F(f"this_cycle__{n}"), 0) for n in COUNTS},
        open_overdue=_count_of(open_flags.filter(kind=Flag.Kind.MEMBER_OVERDUE), "group_id"),
        open_prompt=_count_of(open_flags.filter(kind=Flag.Kind.PROMPT_MISSED), "group_id"),
        missed=_count_of(
            flags.filter(kind=Flag.Kind.PROMPT_MISSED, raised_at__gte=dates.start, raised_at__lt=dates.end),
            "group_id",
        ),
    )
    overdue_now = Q(latest_due_at__lt=now)
    return rows.annotate(
        latest_overdue=Case(When(overdue_now, then=F("latest_n_pending")), default=0),
        latest_outstanding=Case(When(overdue_now, then=0), default=F("latest_n_pending")),
        latest_done=F("latest_n_attested") + F("latest_n_late"),
        latest_owed=F("latest_n_attested") + F("latest_n_late") + F("latest_n_pending"),
        open_flags=F("open_overdue") + F("open_prompt"),
    )


def _done_tenths() -> Case:
    """This cycle's share done in tenths of a per cent, rounded half up as `percent` rounds
    (66.65 -> 66.7), in integers: the same order as sorting on `Tally.pct_done`. None when
    nothing is owed."""
    return Case(
        When(
            latest_owed__gt=0,
            then=(F("latest_done") * 2000 + F("latest_owed")) / (F("latest_owed") * 2),
        ),
        default=None,
        output_field=IntegerField(),
    )


def _sort_keys(sort: str) -> list:
    """The SQL sort keys of a column of the table (`SORTS`), most significant first."""
    if sort == "name":
        return [_code_point_order(Lower("name"))]
    if sort == "status":
        return [Case(*(When(status=v, then=Value(label)) for v, label in ChatGroup.Status.choices))]
    if sort == "admin":
        return [
            _code_point_order(Lower("admin__last_name")),
            _code_point_order(Lower("admin__first_name")),
            _code_point_order(F("admin__username")),
        ]
    if sort == "members":
        return [F("n_members")]
    if sort == "prompt":
        return [F("last_prompt_at")]
    if sort == "flags":
        return [F("open_flags")]
    return [_done_tenths()]


def _code_point_order(expression):
    """Text compared character by character, as Python compares it (`filter_table`), not by
    the database's language rules (which skip spaces and punctuation)."""
    return Collate(expression, "C" if connection.vendor == "postgresql" else "BINARY")


def filtered_table_rows(
    *,
    scope: Scope,
    dates: DateRange,
    now: dt.datetime,
    status: str = "",
    attention: bool = False,
    held: bool = False,
    sort: str = "done",
    descending: bool = False,
) -> QuerySet[ChatGroup]:
    """`group_table` filtered and sorted as `filter_table` does, in SQL: ties by name, a
    row with no figure to sort on last either way."""
    rows = _table_rows(scope=scope, dates=dates, now=now)
    if status:
        rows = rows.filter(status=status)
    if attention:
        rows = rows.filter(Q(open_flags__gt=0) | Q(latest_overdue__gt=0))
    if held:
        rows = rows.filter(on_hold=True)
    sort = sort if sort in SORTS else "done"
    keys = [key.desc(nulls_last=True) if descending else key.asc(nulls_last=True) for key in _sort_keys(sort)]
    return rows.order_by(*keys, _code_point_order(Lower("name")), "pk")


_PEOPLE = tuple((role, name) for role in ("admin", "deputy") for name in ("username", "first_name", "last_name"))
_PEOPLE_VALUES = tuple(f"{role}_{name}" for role, name in _PEOPLE)
_TABLE_VALUES = (
    "pk", "name", "status", "status_changed_at", "n_members", "last_prompt_at", "on_hold", "latest_id",
    "latest_overdue", *(f"latest_{n}" for n in COUNTS), "open_overdue", "open_prompt", "missed", *_PEOPLE_VALUES,
)  # fmt: skip


def _names_of_admin_and_deputy() -> dict[str, Subquery]:
    """The admin's and deputy's names as a probe of `auth_user` each: nothing sorts or sums
    on them (unless the table is sorted by admin), so PostgreSQL reads them for the page's
    rows only, after the sort and the limit, instead of joining every group to its people."""
    users = get_user_model().objects
    return {
        f"{role}_{name}": Subquery(users.filter(pk=OuterRef(f"{role}_id")).values(name)[:1]) for role, name in _PEOPLE
    }


def _group_row(values: dict) -> GroupRow:
    v = values
    row = GroupRow(
        pk=v["pk"],
        name=v["name"],
        status=v["status"],
        status_changed_at=v["status_changed_at"],
        admin_name=full_name(v["admin_username"], v["admin_first_name"], v["admin_last_name"]),
        admin_sort=(v["admin_last_name"].lower(), v["admin_first_name"].lower(), v["admin_username"]),
        deputy_name=(
            full_name(v["deputy_username"], v["deputy_first_name"], v["deputy_last_name"])
            if v["deputy_username"]
            else ""
        ),
        members=v["n_members"],
        last_prompt_at=v["last_prompt_at"],
        on_hold=v["on_hold"],
        open_overdue_flags=v["open_overdue"],
        open_prompt_flags=v["open_prompt"],
        prompts_missed=v["missed"],
    )
    if v["latest_id"] is not None:
        # Overdue as SQL judged it (the deadline before `now`): no deadline to read and parse.
        row.latest_id, row.latest = v["latest_id"], Tally.of_sums(v, overdue=v["latest_overdue"] > 0, prefix="latest_")
    return row


MAX_PAGE_NUMBER = 1_000_000


def group_table_page(
    *,
    scope: Scope,
    dates: DateRange,
    now: dt.datetime | None = None,
    number="1",
    size: int = 50,
    with_sums: bool = False,
    **filters,
) -> Page:
    """One page of the per-group table, filtered and sorted in SQL (`filtered_table_rows`):
    one query for the page's rows and, in the same query, how many rows there are. Only a
    page number past the last costs two more (the count, then the last page), as
    `Paginator.get_page` shows the last page then.

    `with_sums`: the same query also sums every row's figures (window sums over all the
    rows, not the page's), given as `page.sums` for `headline_of_table`. Unfiltered, those
    rows are the headline's, so the dashboard's first screen needs no query of its own for
    them. `page.sums` is None when no row was found on the page asked for."""
    now = now or timezone.now()
    rows = filtered_table_rows(scope=scope, dates=dates, now=now, **filters).annotate(**_names_of_admin_and_deputy())
    try:
        # A number past any table is past the last page (and stays a number the database takes).
        number = min(max(1, int(number)), MAX_PAGE_NUMBER)
    except (TypeError, ValueError):
        number = 1
    windows = {f"sum_{name}": Window(expression) for name, expression in _HEADLINE_SUMS.items()} if with_sums else {}
    found = list(rows.annotate(n_rows=Window(Count("pk")), **windows).values(*_TABLE_VALUES, "n_rows", *windows)[
        (number - 1) * size : number * size
    ])  # fmt: skip
    total = found[0]["n_rows"] if found else 0
    sums = {name: found[0][f"sum_{name}"] for name in _HEADLINE_SUMS} if found and with_sums else None
    if not found and number > 1:
        total = rows.count()
        number = max(1, -(-total // size))
        found = list(rows.values(*_TABLE_VALUES)[(number - 1) * size : number * size])
    paginator = Paginator(range(total), size)
    page = Page([_group_row(v) for v in found], number, paginator)
    page.sums = sums
    return page


# The headline's figures, as sums of the table's columns over its rows (`_table_rows`).
_HEADLINE_SUMS = {
    **{status: Count("pk", filter=Q(status=status)) for status in ChatGroup.Status.values},
    "active_holds": Count("pk", filter=Q(on_hold=True)),
    "on_time": Sum("latest_n_attested"),
    "late": Sum("latest_n_late"),
    "outstanding": Sum("latest_outstanding"),
    "overdue": Sum("latest_overdue"),
    "excused": Sum("latest_n_excused"),
    "held": Sum("latest_n_held"),
    "left": Sum("latest_n_left"),
    "flags_overdue": Sum("open_overdue"),
    "flags_prompt": Sum("open_prompt"),
    "flags_missed": Sum("missed"),
}


def headline_of_table(
    *, scope: Scope, dates: DateRange, now: dt.datetime | None = None, sums: dict | None = None
) -> Headline:
    """The headline as the sums of every row of the table (unfiltered), summed in SQL: the
    same figures as `headline(table=group_table(...))`. Two queries (the sums; the people,
    someone in two groups counting once), or one when `sums` is given: those of an
    unfiltered `group_table_page(with_sums=True)`."""
    now = now or timezone.now()
    if sums is None:
        sums = _table_rows(scope=scope, dates=dates, now=now).aggregate(**_HEADLINE_SUMS)
    members = members_of_approved_groups(scope=scope)
    latest = Tally(**{bucket: sums[bucket] or 0 for bucket in BUCKETS})
    flags = {
        "overdue": sums["flags_overdue"] or 0,
        "prompt": sums["flags_prompt"] or 0,
        "missed": sums["flags_missed"] or 0,
    }
    return _headline(groups=sums, members=members, latest=latest, flags=flags)


@dataclass
class StripCell:
    cycle_id: int
    period_start: dt.datetime | None  # None in the dashboard's strips, which show the week's end
    period_end: dt.datetime | None  # None in the dashboard's strips, which read `week_to`
    held: bool
    tally: Tally
    due_at: dt.datetime | None = None
    # The UK date the week ends on: read as a date in SQL for the dashboard's strips (a
    # date costs nothing to read, a datetime a parse in Python), else of `period_end`.
    week_to: dt.date | None = None

    def __post_init__(self):
        if self.week_to is None and self.period_end is not None:
            self.week_to = self.period_end.astimezone(periods.LONDON).date()

    @property
    def level(self) -> str:
        """A coarse grade for the strip's colour; the text beside it carries the figure."""
        if self.held:
            return "held"
        pct = self.tally.pct_done
        if pct is None:
            return "none"
        if self.tally.overdue == 0 and self.tally.outstanding == 0 and self.tally.late == 0:
            return "good"
        if pct >= 90 or (self.tally.overdue == 0 and self.tally.outstanding > 0):
            return "fair"
        return "poor"

    @property
    def text(self) -> str:
        week_to = f"Week to {self.week_to:%-d %b}"
        if self.held:
            return f"{week_to}: on hold"
        if self.tally.owed == 0:
            return f"{week_to}: nothing owed"
        t = self.tally
        parts = [f"{t.done} of {t.owed} done"]
        if t.late:
            parts.append(f"{t.late} late")
        if t.overdue:
            parts.append(f"{t.overdue} overdue")
        if t.outstanding:
            parts.append(f"{t.outstanding} outstanding")
        return f"{week_to}: " + ", ".join(parts)


def _cycles_with_tallies(
    counts: QuerySet[CycleCount], *, now: dt.datetime, strip_only: bool = False
) -> list[tuple[int, StripCell]]:
    """Each cycle of `counts` (the cycles' `CycleCount` rows, one per cycle) with its tally,
    whether its deadline has passed read in SQL, and whether it was held as a probe of the
    cycle by its key: no join, so the cycles are found by `cyclecount_group_end_idx` alone
    and no plan hashes every cycle of the year. `strip_only`: only what a dashboard strip
    shows (no start, no deadline, the week's end as a UK date): each datetime read costs a
    parse in Python, and the dashboard's fifty strips are 400 cycles."""
    if strip_only:
        dates, local_dates = (), {"week_to": TruncDate("period_end", tzinfo=periods.LONDON)}
    else:
        dates, local_dates = ("period_end", "cycle__period_start", "due_at"), {}
    rows = counts.order_by().values(
        "cycle_id",
        "group_id",
        *dates,
        *COUNTS,
        **local_dates,
        passed=ExpressionWrapper(Q(due_at__lt=now), output_field=BooleanField()),
        held=Exists(Cycle.objects.filter(pk=OuterRef("cycle_id"), hold__isnull=False)),
    )
    return [
        (
            row["group_id"],
            StripCell(
                cycle_id=row["cycle_id"],
                period_start=row.get("cycle__period_start"),
                period_end=row.get("period_end"),
                held=row["held"],
                tally=Tally.of_sums(row, overdue=row["passed"]),
                due_at=row.get("due_at"),
                week_to=row.get("week_to"),
            ),
        )
        for row in rows
    ]


def group_strips(
    *, group_ids: list[int], dates: DateRange, now: dt.datetime | None = None
) -> dict[int, list[StripCell]]:
    """The last eight cycles (up to the range's end) of each group, oldest first. One query."""
    now = now or timezone.now()
    if not group_ids:
        return {}
    counts = CycleCount.objects.filter(
        group_id__in=group_ids, period_end__lte=dates.end, period_end__gt=dates.end - STRIP_CYCLES * WEEK
    )
    strips: dict[int, list[StripCell]] = {pk: [] for pk in group_ids}
    for group_id, cell in _cycles_with_tallies(counts, now=now, strip_only=True):
        strips[group_id].append(cell)
    for cells in strips.values():
        cells.sort(key=lambda c: (c.week_to, c.cycle_id))
        del cells[:-STRIP_CYCLES]
    return strips


# --- Drill-downs -------------------------------------------------------------------------


@dataclass
class GroupDrillDown:
    cycles: list[StripCell]
    people: list[dict]
    matrix_cycles: list[StripCell]
    flags: list[Flag]
    holds: list[Hold]

    @property
    def on_hold(self) -> bool:
        return any(hold.is_active for hold in self.holds)


def group_drilldown(*, group: ChatGroup, dates: DateRange, now: dt.datetime | None = None) -> GroupDrillDown:
    """A group's cycles in the range, each member's record, its flags and holds. Five queries."""
    now = now or timezone.now()
    cycles = [
        cell
        for _, cell in _cycles_with_tallies(
            CycleCount.objects.filter(group=group, period_end__gte=dates.start, period_end__lt=dates.end), now=now
        )
    ]
    cycles.sort(key=lambda c: c.period_end, reverse=True)
    matrix_cycles = list(reversed(cycles[:STRIP_CYCLES]))
    matrix_ids = {c.cycle_id: i for i, c in enumerate(matrix_cycles)}

    obligations = Obligation.objects.filter(
        cycle__group=group, cycle__period_end__gte=dates.start, cycle__period_end__lt=dates.end
    ).values_list("user_id", "cycle_id", "status")
    due_at = {c.cycle_id: c.due_at for c in cycles}  # every obligation has its cycle's deadline
    by_user: dict[int, dict] = {}
    for user_id, cycle_id, status in obligations:
        person = by_user.setdefault(user_id, {"tally": Tally(), "cells": [None] * len(matrix_cycles)})
        bucket = _bucket_of(status, due_at[cycle_id], now)
        person["tally"].add(bucket, 1)
        if cycle_id in matrix_ids:
            person["cells"][matrix_ids[cycle_id]] = bucket

    memberships = Membership.objects.filter(group=group).select_related("user").order_by("left_at", "joined_at")
    people: list[dict] = []
    seen: set[int] = set()
    for membership in memberships:
        if membership.user_id in seen:
            continue
        seen.add(membership.user_id)
        record = by_user.pop(membership.user_id, None) or {"tally": Tally(), "cells": [None] * len(matrix_cycles)}
        people.append({"user": membership.user, "membership": membership, **record})
    people.sort(key=lambda p: (-p["tally"].overdue, -p["tally"].late, display_name(p["user"]).lower()))

    flags = list(
        Flag.objects.filter(cycle__group=group)
        .filter(Q(resolved_at__isnull=True) | Q(raised_at__gte=dates.start, raised_at__lt=dates.end))
        .select_related("user", "cycle")
        .order_by(F("resolved_at").desc(nulls_first=True), "-raised_at")[:200]
    )
    holds = list(Hold.objects.filter(group=group).select_related("placed_by", "lifted_by"))
    return GroupDrillDown(cycles=cycles, people=people, matrix_cycles=matrix_cycles, flags=flags, holds=holds)


@dataclass
class PersonRecord:
    tally: Tally
    obligations: list[Obligation]
    memberships: list[Membership]
    flags: list[Flag]


def person_record(
    *, person: AbstractBaseUser, scope: Scope, dates: DateRange, now: dt.datetime | None = None, limit: int = 300
) -> PersonRecord:
    """A person's clear-downs across the groups in scope, in the range. Three queries."""
    now = now or timezone.now()
    obligations = list(
        Obligation.objects.filter(scope.q("cycle__group"), user=person)
        .filter(cycle__period_end__gte=dates.start, cycle__period_end__lt=dates.end)
        .select_related("cycle__group", "excused_by")
        .order_by("-cycle__period_end", Lower("cycle__group__name"))[:limit]
    )
    tally = Tally()
    for obligation in obligations:
        mark_bucket(obligation, now=now)
        tally.add(obligation.bucket, 1)
    memberships = list(
        Membership.objects.filter(scope.q("group"), user=person)
        .select_related("group")
        .order_by("left_at", Lower("group__name"))
    )
    flags = list(
        Flag.objects.filter(scope.q("cycle__group"), user=person)
        .filter(Q(resolved_at__isnull=True) | Q(raised_at__gte=dates.start, raised_at__lt=dates.end))
        .select_related("cycle__group")
        .order_by(F("resolved_at").desc(nulls_first=True), "-raised_at")[:200]
    )
    return PersonRecord(tally=tally, obligations=obligations, memberships=memberships, flags=flags)


def person_in_scope(*, scope: Scope, pk: int) -> AbstractBaseUser | None:
    """A person who is or was in a group of the scope (anyone at all for DPO and auditors)."""
    people = get_user_model().objects.filter(pk=pk)
    if not scope.is_all:
        people = people.filter(Exists(Membership.objects.filter(scope.q("group"), user_id=OuterRef("pk"))))
    return people.first()


# --- The rows behind each figure ------------------------------------------------------------


def obligation_rows(
    *,
    scope: Scope,
    dates: DateRange,
    now: dt.datetime | None = None,
    bucket: str = "",
    group_id: int | None = None,
    week: dt.date | None = None,
    latest: bool = False,
) -> QuerySet[Obligation]:
    """The obligations behind a figure: a bucket, of the latest cycles, a week or the range."""
    now = now or timezone.now()
    rows = Obligation.objects.filter(scope.q("cycle__group")).select_related("user", "cycle__group")
    if latest:
        rows = rows.filter(cycle_id__in=latest_counts(scope=scope, end=dates.end).values("cycle_id"))
    elif week is not None:
        # The trend counts by the week of the deadline; so does this list.
        rows = rows.filter(
            due_at__gte=periods.local_to_utc(week, dt.time(0)),
            due_at__lt=periods.local_to_utc(week + WEEK, dt.time(0)),
        )
    else:
        rows = rows.filter(due_at__gte=dates.start, due_at__lt=dates.end)
    if bucket in BUCKETS:
        rows = rows.filter(bucket_q(bucket, now=now))
    if group_id is not None:
        rows = rows.filter(cycle__group_id=group_id)
    return rows.order_by("-due_at", Lower("cycle__group__name"), "user__last_name", "pk")


FLAG_FILTERS = ("open", "open_overdue", "open_prompt", "prompts_missed", "open_duties")
# A group's duties that are not a week's clear-down: an overdue review (R16), a timer not
# turned off under a hold (R17). Listed apart, so the clear-down figures count what they list.
DUTY_KINDS = (Flag.Kind.REVIEW_OVERDUE, Flag.Kind.TIMER_NOT_OFF)


def flag_rows(*, scope: Scope, dates: DateRange, which: str = "open") -> QuerySet[Flag]:
    # Every kind of flag, a group review's and a hold's timer duty too (they have no cycle).
    rows = Flag.objects.filter(scope.q("group")).select_related("user", "group", "cycle")
    if which == "prompts_missed":
        rows = rows.filter(kind=Flag.Kind.PROMPT_MISSED, raised_at__gte=dates.start, raised_at__lt=dates.end)
    else:
        rows = rows.filter(resolved_at__isnull=True)
        rows = rows.filter(kind__in=DUTY_KINDS) if which == "open_duties" else rows.exclude(kind__in=DUTY_KINDS)
        if which == "open_overdue":
            rows = rows.filter(kind=Flag.Kind.MEMBER_OVERDUE)
        elif which == "open_prompt":
            rows = rows.filter(kind=Flag.Kind.PROMPT_MISSED)
    return rows.order_by("-raised_at", "pk")


def people_rows(*, scope: Scope, now: dt.datetime | None = None, search: str = "") -> QuerySet:
    """People in approved groups of the scope now, with their open overdue clear-downs."""
    now = now or timezone.now()
    active = Membership.objects.filter(
        scope.q("group"), user_id=OuterRef("pk"), left_at__isnull=True, group__status=ChatGroup.Status.APPROVED
    )
    overdue = Obligation.objects.filter(scope.q("cycle__group"), user_id=OuterRef("pk")).filter(
        bucket_q("overdue", now=now)
    )
    people = (
        get_user_model()
        .objects.filter(Exists(active))
        .annotate(n_groups=_count_of(active, "user_id"), n_overdue=_count_of(overdue, "user_id"))
    )
    for word in " ".join(search.split()).split()[:5]:
        people = people.filter(
            Q(username__icontains=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word)
        )
    return people.order_by("-n_overdue", Lower("last_name"), Lower("first_name"), "pk")
