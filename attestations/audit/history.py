"""Reads for auditors: the change history of every record, export rows and the FOI pack.

Everything here is set-based. The history browser runs a fixed number of queries per page
(a UNION ALL of the history tables for the page's ids, then per kind its records and the
records just before them, then one query per related model to name foreign keys). Exports
read each table once, in chunks (`.iterator(chunk_size=…)`), and yield rows as they go, so
memory stays flat whatever the size of the record.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery

from groups.models import (
    ChatGroup,
    GroupReview,
    Membership,
    PendingMembership,
    PolicyAcknowledgement,
    PolicyVersion,
    ReviewAnswer,
    TimerConfirmation,
)
from opcc_portal.lib import keyset
from opcc_portal.lib.history import HIDDEN_FIELDS, field_change, name_related, record_changes
from opcc_portal.lib.text import display_name, percent

from .. import periods
from ..models import Cycle, DisposalRecord, Flag, Hold, HoldNotice, Obligation, SentEmail

CHUNK_SIZE = 2_000


# --- Filters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """A date range in UK dates (both days included) and optionally one group."""

    start: dt.date | None = None
    end: dt.date | None = None
    group_id: int | None = None

    @property
    def since(self) -> dt.datetime | None:
        return periods.day_start(self.start) if self.start else None

    @property
    def until(self) -> dt.datetime | None:
        # Exclusive: midnight at the start of the day after `end`, UK time.
        return periods.day_start(self.end + dt.timedelta(days=1)) if self.end else None

    def as_dict(self) -> dict:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "group": self.group_id,
        }


def _in_range(qs: QuerySet, lookup: str, filters: Filters) -> QuerySet:
    if filters.since:
        qs = qs.filter(**{f"{lookup}__gte": filters.since})
    if filters.until:
        qs = qs.filter(**{f"{lookup}__lt": filters.until})
    return qs


def _overlapping(qs: QuerySet, start: str, end: str, filters: Filters) -> QuerySet:
    """Rows whose [start, end) interval meets the range (an open interval has no end)."""
    if filters.until:
        qs = qs.filter(**{f"{start}__lt": filters.until})
    if filters.since:
        qs = qs.filter(Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gte": filters.since}))
    return qs


# --- Naming related objects: one query per model, never one per row -------------------------


def _names(wanted: dict[type, set]) -> dict[type, dict]:
    User = get_user_model()
    names: dict[type, dict] = {}
    for model, ids in wanted.items():
        ids = {i for i in ids if i not in (None, "")}
        if not ids:
            names[model] = {}
        elif model is User:
            names[model] = {u.pk: display_name(u) for u in User.objects.filter(pk__in=ids)}
        elif model is Cycle:
            names[model] = {
                c.pk: f"{c.group.name}, week to {c.period_end.astimezone(periods.LONDON):%-d %b %Y}"
                for c in Cycle.objects.filter(pk__in=ids).select_related("group")
            }
        elif model is Hold:
            names[model] = {h.pk: f"hold {h.reference}" for h in Hold.objects.filter(pk__in=ids)}
        elif model is Membership:  # a review's answer names the member: one query, not two per row
            rows = Membership.objects.filter(pk__in=ids).select_related("user", "group")
            names[model] = {m.pk: f"{display_name(m.user)} in {m.group.name}" for m in rows}
        elif model is GroupReview:
            rows = GroupReview.objects.filter(pk__in=ids).select_related("group")
            names[model] = {r.pk: f"review of {r.group.name} due {r.due_at:%-d %b %Y}" for r in rows}
        else:
            names[model] = {o.pk: str(o) for o in model._default_manager.filter(pk__in=ids)}
    return names


# --- History ---------------------------------------------------------------------------------


def _cycles_of(group_id: int) -> QuerySet:
    return Cycle.objects.filter(group_id=group_id).values("pk")


@dataclass(frozen=True)
class HistoryKind:
    key: str
    label: str
    model: type
    group_filter: Callable[[int], Q]
    # Foreign keys that name what a change is about, in the order they are shown.
    subject_fields: tuple[str, ...]

    @property
    def historical(self):
        return self.model.history.model


HISTORY_KINDS: dict[str, HistoryKind] = {
    k.key: k
    for k in [
        HistoryKind("group", "Group", ChatGroup, lambda g: Q(id=g), ()),
        HistoryKind("membership", "Membership", Membership, lambda g: Q(group_id=g), ("user", "group")),
        HistoryKind("cycle", "Cycle", Cycle, lambda g: Q(group_id=g), ("group",)),
        HistoryKind(
            "obligation", "Attestation", Obligation, lambda g: Q(cycle_id__in=_cycles_of(g)), ("user", "cycle")
        ),
        HistoryKind("flag", "Flag", Flag, lambda g: Q(group_id=g), ("user", "cycle", "review")),
        HistoryKind("hold", "Hold", Hold, lambda g: Q(group_id=g), ("group",)),
        HistoryKind(
            "hold_notice",
            "Hold notice",
            HoldNotice,
            lambda g: Q(hold_id__in=Hold.objects.filter(group_id=g).values("pk")),
            ("user", "hold"),
        ),
        # The policy (R15): versions belong to no group (a group filter leaves them out);
        # acknowledgements and pending adds are those of the group's members.
        HistoryKind("policy_version", "Policy version", PolicyVersion, lambda g: Q(pk__in=[]), ()),
        HistoryKind(
            "policy_ack",
            "Policy acknowledgement",
            PolicyAcknowledgement,
            lambda g: Q(user_id__in=Membership.objects.filter(group_id=g).values("user_id")),
            ("user", "version"),
        ),
        HistoryKind(
            "pending_membership", "Pending membership", PendingMembership, lambda g: Q(group_id=g), ("user", "group")
        ),
        HistoryKind("review", "Group review", GroupReview, lambda g: Q(group_id=g), ("group",)),
        HistoryKind(
            "timer", "Disappearing-messages timer confirmed", TimerConfirmation, lambda g: Q(group_id=g), ("group",)
        ),
        HistoryKind(
            "review_answer",
            "Review answer",
            ReviewAnswer,
            lambda g: Q(review_id__in=GroupReview.objects.filter(group_id=g).values("pk")),
            ("membership", "review"),
        ),
    ]
}


@dataclass(frozen=True)
class HistoryFilters(Filters):
    kind: str = ""
    object_id: int | None = None
    changed_by: str = ""

    def as_dict(self) -> dict:
        return {**super().as_dict(), "kind": self.kind or None, "object": self.object_id, "by": self.changed_by or None}


def _people_matching(text: str) -> QuerySet:
    User = get_user_model()
    people = User.objects.all()
    for word in text.split():
        people = people.filter(Q(username__iexact=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word))
    return people.values("pk")


def _history_base(kind: HistoryKind, filters: HistoryFilters, *, lower_bound: bool = True) -> QuerySet:
    qs = kind.historical.objects.all()
    if filters.group_id:
        qs = qs.filter(kind.group_filter(filters.group_id))
    if filters.object_id:
        qs = qs.filter(id=filters.object_id)
    if filters.changed_by.strip():
        qs = qs.filter(history_user_id__in=_people_matching(filters.changed_by))
    if lower_bound and filters.since:
        qs = qs.filter(history_date__gte=filters.since)
    if filters.until:
        qs = qs.filter(history_date__lt=filters.until)
    return qs


def _kinds(filters: HistoryFilters) -> list[HistoryKind]:
    if filters.kind in HISTORY_KINDS:
        return [HISTORY_KINDS[filters.kind]]
    return list(HISTORY_KINDS.values())


# A change's place among changes made at the same instant: the order of HISTORY_KINDS.
KIND_RANK = {key: rank for rank, key in enumerate(HISTORY_KINDS)}


def _history_key(row: tuple) -> tuple:
    when, history_id, kind = row
    return (when, KIND_RANK[kind], history_id)


def history_page(
    *, filters: HistoryFilters, cursor: keyset.Cursor | None = None, older: bool = True, size: int = 50
) -> keyset.KeysetPage:
    """A page of matching changes, newest first, ordered by (time, kind, change number):
    the `size` changes after `cursor` (older), before it (newer), or the newest.

    Keyset paging: each history table gives its next `size + 1` changes from the position,
    read backwards along its index on the time (no OFFSET, no COUNT over a union of every
    table), and the page is the first `size` of their merge. One query per kind of record,
    then `history_entries`' queries, however deep the page.
    """
    rows: list[tuple] = []
    order = ("-history_date", "-history_id") if older else ("history_date", "history_id")
    for kind in _kinds(filters):
        changes = _history_base(kind, filters)
        if cursor is not None:
            changes = changes.filter(
                keyset.seek(
                    cursor=cursor,
                    older=older,
                    when="history_date",
                    pk="history_id",
                    label_rank=KIND_RANK[kind.key],
                    cursor_rank=KIND_RANK[cursor.label],
                )
            )
        found = changes.order_by(*order).values_list("history_date", "history_id")[: size + 1]
        rows.extend((when, history_id, kind.key) for when, history_id in found)
    rows.sort(key=_history_key, reverse=older)
    page = keyset.page_of(
        rows,
        size=size,
        older=older,
        asked=cursor is not None,
        key=lambda row: keyset.Cursor(when=row[0], label=row[2], pk=row[1]),
    )
    page.object_list = history_entries(page.object_list)
    return page


def history_entries(rows: Iterable[tuple]) -> list[dict]:
    """Field-level changes for a page of (history_date, history_id, kind) rows, in the same order.

    Per kind on the page: one query for its records (each annotated with the id of the
    record just before it of the same object) and one for those previous records; then one
    query per related model to name foreign keys.
    """
    rows = list(rows)
    by_kind: dict[str, list[int]] = {}
    for _, history_id, kind in rows:
        by_kind.setdefault(kind, []).append(history_id)
    pairs: dict[tuple[str, int], tuple] = {}
    for key, ids in by_kind.items():
        historical = HISTORY_KINDS[key].historical
        previous = historical.objects.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id")).order_by(
            "-history_id"
        )
        records = list(
            historical.objects.filter(history_id__in=ids)
            .select_related("history_user")
            .annotate(prev_id=Subquery(previous.values("history_id")[:1]))
        )
        prevs = {r.history_id: r for r in historical.objects.filter(history_id__in=[r.prev_id for r in records])}
        for record in records:
            pairs[(key, record.history_id)] = (record, prevs.get(record.prev_id))
    entries = [_describe(HISTORY_KINDS[kind], *pairs[(kind, hid)]) for _, hid, kind in rows if (kind, hid) in pairs]
    _resolve(entries)
    return entries


def _describe(kind: HistoryKind, record, previous) -> dict:
    model_meta = kind.model._meta
    changes = []
    if previous is not None:
        changes = record_changes(record, previous)
    elif record.history_type == "+":
        for f in model_meta.concrete_fields:
            value = getattr(record, f.attname)
            if f.name not in HIDDEN_FIELDS and value not in (None, ""):
                changes.append(field_change(f, None, value))
    subject = [
        (model_meta.get_field(name).related_model, getattr(record, f"{name}_id")) for name in kind.subject_fields
    ]
    return {
        "when": record.history_date,
        "history_id": record.history_id,
        "kind": kind.key,
        "kind_label": kind.label,
        "object_id": record.id,
        "subject": record.name if kind.key == "group" else (record.reference if kind.key == "hold" else ""),
        "subject_refs": subject,
        "action": {"+": "Created", "~": "Changed", "-": "Deleted"}[record.history_type],
        "reason": record.history_change_reason or "",
        "who": display_name(record.history_user) if record.history_user_id else "the system",
        "who_username": record.history_user.get_username() if record.history_user_id else "",
        "changes": changes,
    }


def _resolve(entries: list[dict]) -> None:
    wanted: dict[type, set] = {}
    for entry in entries:
        for model, value in entry["subject_refs"]:
            wanted.setdefault(model, set()).add(value)
        for change in entry["changes"]:
            if change["model"] is not None:
                wanted.setdefault(change["model"], set()).update((change["old"], change["new"]))
    names = _names(wanted)
    for entry in entries:
        refs = entry.pop("subject_refs")
        if refs:
            named = ", ".join(names[m].get(v, f"#{v}") for m, v in refs if v is not None)
            entry["subject"] = f"{entry['subject']}, {named}" if entry["subject"] else named
        name_related(entry["changes"], names)


def history_rows(*, filters: HistoryFilters, chunk_size: int = CHUNK_SIZE) -> Iterator[list[dict]]:
    """Every matching change, in batches of entries, by kind then object then time.

    Each table is read once, in order of object and change, so the record before a change
    is the one read just before it: records before the range are read (not shown) to give
    the first change in the range its "before".
    """
    for kind in _kinds(filters):
        records = (
            _history_base(kind, filters, lower_bound=False)
            .select_related("history_user")
            .order_by("id", "history_id")
            .iterator(chunk_size=chunk_size)
        )
        batch: list[dict] = []
        previous = None
        for record in records:
            before = previous if previous is not None and previous.id == record.id else None
            previous = record
            if filters.since and record.history_date < filters.since:
                continue
            batch.append(_describe(kind, record, before))
            if len(batch) >= chunk_size:
                _resolve(batch)
                yield batch
                batch = []
        if batch:
            _resolve(batch)
            yield batch


# --- Exports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSpec:
    key: str
    title: str
    description: str
    columns: tuple[tuple[str, str], ...] = ()  # (header, lookup) read by values_list
    queryset: Callable[[Filters], QuerySet] | None = None
    headers_override: tuple[str, ...] = ()
    batches: Callable[[Filters, int], Iterator[list[tuple]]] | None = None
    # For an export of `batches`: how many rows it has, counting no further than a limit.
    count_at_most: Callable[[Filters, int], int] | None = None

    @property
    def headers(self) -> list[str]:
        return list(self.headers_override or (h for h, _ in self.columns))

    def rows(self, filters: Filters, *, chunk_size: int | None = None) -> Iterator[list[tuple]]:
        """Batches of rows (tuples of plain values), read from the database in chunks."""
        chunk_size = chunk_size or CHUNK_SIZE
        if self.batches is not None:
            yield from self.batches(filters, chunk_size)
            return
        iterator = self.values(filters).iterator(chunk_size=chunk_size)
        batch: list[tuple] = []
        for row in iterator:
            batch.append(row)
            if len(batch) >= chunk_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def values(self, filters: Filters) -> QuerySet:
        """The export's rows as tuples of the columns' values, in file order."""
        return self.queryset(filters).values_list(*(lookup for _, lookup in self.columns))

    def sql(self, filters: Filters) -> tuple[str, tuple]:
        """The SQL of the export's query, for the benchmark's COPY of the same rows."""
        return self.values(filters).query.sql_with_params()


def _register(f: Filters) -> QuerySet:
    qs = ChatGroup.objects.all()
    if f.group_id:
        qs = qs.filter(pk=f.group_id)
    return _in_range(qs, "created_at", f).order_by("pk")


def _memberships(f: Filters) -> QuerySet:
    qs = Membership.objects.all()
    if f.group_id:
        qs = qs.filter(group_id=f.group_id)
    return _overlapping(qs, "joined_at", "left_at", f).order_by("pk")


def _obligations(f: Filters) -> QuerySet:
    qs = Obligation.objects.all()
    if f.group_id:
        qs = qs.filter(cycle__group_id=f.group_id)
    return _in_range(qs, "cycle__period_end", f).order_by("pk")


def _flags(f: Filters) -> QuerySet:
    qs = Flag.objects.all()
    if f.group_id:
        qs = qs.filter(group_id=f.group_id)
    return _in_range(qs, "raised_at", f).order_by("pk")


def _holds(f: Filters) -> QuerySet:
    qs = Hold.objects.all()
    if f.group_id:
        qs = qs.filter(group_id=f.group_id)
    return _overlapping(qs, "placed_at", "lifted_at", f).order_by("pk")


def _hold_notices(f: Filters) -> QuerySet:
    qs = HoldNotice.objects.all()
    if f.group_id:
        qs = qs.filter(hold__group_id=f.group_id)
    return _overlapping(qs, "hold__placed_at", "hold__lifted_at", f).order_by("hold_id", "pk")


def _reviews(f: Filters) -> QuerySet:
    qs = ReviewAnswer.objects.all()
    if f.group_id:
        qs = qs.filter(review__group_id=f.group_id)
    return _in_range(qs, "review__due_at", f).order_by("review_id", "submission", "pk")


def _emails(f: Filters) -> QuerySet:
    qs = SentEmail.objects.all()
    if f.group_id:
        qs = qs.filter(group_id=f.group_id)
    return _in_range(qs, "created_at", f).order_by("pk")


def _policy_versions(f: Filters) -> QuerySet:
    qs = PolicyVersion.objects.filter(published_at__isnull=False)
    if f.group_id:
        return qs.none()
    return _in_range(qs, "published_at", f).order_by("pk")


def _policy_acks(f: Filters) -> QuerySet:
    qs = PolicyAcknowledgement.objects.all()
    if f.group_id:
        qs = qs.filter(user_id__in=Membership.objects.filter(group_id=f.group_id).values("user_id"))
    return _in_range(qs, "created_at", f).order_by("pk")


HISTORY_HEADERS = (
    "change_id", "kind", "object_id", "subject", "when_utc", "action", "changed_by", "changed_by_name",
    "reason", "changes",
)  # fmt: skip


def _as_history_filters(f: Filters) -> HistoryFilters:
    return f if isinstance(f, HistoryFilters) else HistoryFilters(start=f.start, end=f.end, group_id=f.group_id)


def history_count_at_most(filters: HistoryFilters, limit: int) -> int:
    """How many changes match, counting no further than `limit`: one bounded count per kind
    of record, stopping at the kind that reaches it. Milliseconds however long the history,
    where reading the changes themselves (each described in Python) takes seconds."""
    found = 0
    for kind in _kinds(filters):
        found += _history_base(kind, filters).values("history_id")[: limit - found].count()
        if found >= limit:
            break
    return found


def _history_batches(f: Filters, chunk_size: int) -> Iterator[list[tuple]]:
    filters = _as_history_filters(f)
    for entries in history_rows(filters=filters, chunk_size=chunk_size):
        yield [
            (
                e["history_id"],
                e["kind"],
                e["object_id"],
                e["subject"],
                e["when"],
                e["action"],
                e["who_username"],
                e["who"],
                e["reason"],
                "; ".join(f"{c['field']}: {c['old']} -> {c['new']}" for c in e["changes"]),
            )
            for e in entries
        ]


_EXPORTS = [
    ExportSpec(
        "register",
        "Register of groups",
        "Every group with its purpose, status, admin and deputy (filtered by the day it was proposed).",
        (
            ("group_id", "pk"),
            ("name", "name"),
            ("purpose", "purpose"),
            ("status", "status"),
            ("status_reason", "status_reason"),
            ("status_changed_at", "status_changed_at"),
            ("admin", "admin__username"),
            ("deputy", "deputy__username"),
            ("cycle_weekday", "cycle_weekday"),
            ("cycle_time", "cycle_time"),
            ("proposed_by", "proposed_by__username"),
            ("approved_by", "approved_by__username"),
            ("approved_at", "approved_at"),
            ("clear_mode", "clear_mode"),
            ("timer_check", "timer_check"),
            ("review_months", "review_months"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
        ),
        _register,
    ),
    ExportSpec(
        "memberships",
        "Memberships",
        "Who was in which group, with the times they joined and left (memberships that overlap the dates).",
        (
            ("membership_id", "pk"),
            ("group_id", "group_id"),
            ("group", "group__name"),
            ("username", "user__username"),
            ("first_name", "user__first_name"),
            ("last_name", "user__last_name"),
            ("joined_at", "joined_at"),
            ("left_at", "left_at"),
            ("added_by", "added_by__username"),
            ("removed_by", "removed_by__username"),
        ),
        _memberships,
    ),
    ExportSpec(
        "obligations",
        "Clear-downs and attestations",
        "Every clear-down owed, with its attestation, excuse or hold and its ledger hash (cycles ending in the dates).",
        (
            ("obligation_id", "pk"),
            ("group_id", "cycle__group_id"),
            ("group", "cycle__group__name"),
            # Why a clear-down is still owed although its group no longer runs (R13).
            ("group_status", "cycle__group__status"),
            ("group_status_changed_at", "cycle__group__status_changed_at"),
            ("cycle_id", "cycle_id"),
            ("period_start", "cycle__period_start"),
            ("period_end", "cycle__period_end"),
            ("due_at", "due_at"),
            ("username", "user__username"),
            ("status", "status"),
            ("attested_at", "attested_at"),
            ("cleared_on", "cleared_on"),
            ("confirmed_cleared", "confirmed_cleared"),
            ("confirmed_saved", "confirmed_saved"),
            ("channel", "channel"),
            ("excused_by", "excused_by__username"),
            ("excused_at", "excused_at"),
            ("excuse_reason", "excuse_reason"),
            ("ledger_sequence", "ledger_entry__sequence"),
            ("ledger_hash", "ledger_entry__hash"),
            # Added after the first release: last, so readers of the older columns keep working.
            ("where_saved", "where_saved"),
        ),
        _obligations,
    ),
    ExportSpec(
        "flags",
        "Flags",
        "Overdue clear-downs and missed prompts, with when they were notified, escalated and resolved.",
        (
            ("flag_id", "pk"),
            ("kind", "kind"),
            ("group_id", "group_id"),
            ("group", "group__name"),
            ("group_status", "group__status"),
            ("group_status_changed_at", "group__status_changed_at"),
            ("cycle_id", "cycle_id"),
            ("period_end", "cycle__period_end"),
            ("review_id", "review_id"),
            ("username", "user__username"),
            ("raised_at", "raised_at"),
            ("notified_at", "notified_at"),
            ("escalated_at", "escalated_at"),
            ("resolved_at", "resolved_at"),
        ),
        _flags,
    ),
    ExportSpec(
        "holds",
        "Holds",
        "FOI and legal holds with their references (holds in force at any time in the dates).",
        (
            ("hold_id", "pk"),
            ("group_id", "group_id"),
            ("group", "group__name"),
            ("reference", "reference"),
            ("reason", "reason"),
            ("placed_by", "placed_by__username"),
            ("placed_at", "placed_at"),
            ("lifted_by", "lifted_by__username"),
            ("lifted_at", "lifted_at"),
            ("lift_reason", "lift_reason"),
            ("chat_posted_at", "chat_posted_at"),
            ("chat_posted_by", "chat_posted_by__username"),
            ("timer_off_required", "timer_off_required"),
            ("timer_off_at", "timer_off_at"),
            ("timer_off_by", "timer_off_by__username"),
        ),
        _holds,
    ),
    ExportSpec(
        "hold_notices",
        "Hold notices",
        "Who was told of each hold, when, and whether and how they acknowledged it (holds in force in the dates).",
        (
            ("notice_id", "pk"),
            ("hold_id", "hold_id"),
            ("reference", "hold__reference"),
            ("group_id", "hold__group_id"),
            ("group", "hold__group__name"),
            ("username", "user__username"),
            ("notified_at", "notified_at"),
            ("acknowledged_at", "acknowledged_at"),
            ("channel", "channel"),
            ("reminded_at", "reminded_at"),
            ("escalated_at", "escalated_at"),
            ("released_at", "released_at"),
        ),
        _hold_notices,
    ),
    ExportSpec(
        "emails",
        "Emails sent",
        "Every email the portal sent or tried to send: to whom, about what, and the result.",
        (
            ("email_id", "pk"),
            ("kind", "kind"),
            ("status", "status"),
            ("to_address", "to_address"),
            ("username", "user__username"),
            ("subject", "subject"),
            ("group_id", "group_id"),
            ("group", "group__name"),
            ("cycle_id", "cycle_id"),
            ("obligation_id", "obligation_id"),
            ("created_at", "created_at"),
            ("sent_at", "sent_at"),
            ("attempts", "attempts"),
            ("error", "error"),
        ),
        _emails,
    ),
    ExportSpec(
        "policy_versions",
        "Policy versions",
        "Every published version of the WhatsApp policy: number, dates, what changed, who published it "
        "(published in the dates; none for one group).",
        (
            ("version_id", "pk"),
            ("number", "number"),
            ("title", "title"),
            ("effective_on", "effective_on"),
            ("changes", "changes"),
            ("published_by", "published_by__username"),
            ("published_at", "published_at"),
        ),
        _policy_versions,
    ),
    ExportSpec(
        "policy_acks",
        "Policy acknowledgements",
        "Who was asked to acknowledge which version, by when, and when they did (asked in the dates).",
        (
            ("acknowledgement_id", "pk"),
            ("version", "version__number"),
            ("version_title", "version__title"),
            ("username", "user__username"),
            ("first_name", "user__first_name"),
            ("last_name", "user__last_name"),
            ("asked_at", "created_at"),
            ("due_at", "due_at"),
            ("acknowledged_at", "acknowledged_at"),
            ("reminded_at", "reminder_sent_at"),
            ("overdue_reported_at", "overdue_notified_at"),
        ),
        _policy_acks,
    ),
    ExportSpec(
        "reviews",
        "Group reviews",
        "Each periodic review of a group (due in the dates), one row per member per answer: the admin's "
        "answers, keep or remove, and the DPO's sign-off or reason for sending it back (R16).",
        (
            ("review_id", "review_id"),
            ("group_id", "review__group_id"),
            ("group", "review__group__name"),
            ("due_at", "review__due_at"),
            ("review_status", "review__status"),
            ("answer", "submission"),
            ("username", "membership__user__username"),
            ("keep", "keep"),
            ("purpose_as_confirmed", "review__purpose"),
            ("official_only", "review__official_only"),
            ("settings_confirmed", "review__settings_confirmed"),
            ("submitted_by", "review__submitted_by__username"),
            ("submitted_at", "review__submitted_at"),
            ("signed_off_by", "review__signed_off_by__username"),
            ("signed_off_at", "review__signed_off_at"),
            ("returned_at", "review__returned_at"),
            ("return_reason", "review__return_reason"),
        ),
        _reviews,
    ),
]
_EXPORTS.append(
    ExportSpec(
        "history",
        "Change history",
        "Every change to groups, memberships, cycles, attestations, flags, holds, hold notices, group reviews, "
        "timer confirmations and the policy's versions and acknowledgements, field by field, with who made it.",
        headers_override=HISTORY_HEADERS,
        batches=_history_batches,
        count_at_most=lambda f, limit: history_count_at_most(_as_history_filters(f), limit),
    )
)


DISPOSAL_COLUMNS = (
    "pk", "run_started_at", "finished_at", "kind", "dry_run", "rule", "period_days", "cutoff", "count", "details",
    "held_back", "oldest", "newest", "batches", "longest_batch_ms",
)  # fmt: skip


def _disposal_batches(f: Filters, chunk_size: int) -> Iterator[list[tuple]]:
    # Read in Python, not COPY: a small table, and its details are JSON, written as JSON text.
    records = _in_range(DisposalRecord.objects.all(), "run_started_at", f).order_by("run_started_at", "kind", "pk")
    batch: list[tuple] = []
    for row in records.values_list(*DISPOSAL_COLUMNS).iterator(chunk_size=chunk_size):
        at = DISPOSAL_COLUMNS.index("details")
        batch.append((*row[:at], json.dumps(row[at], sort_keys=True), *row[at + 1 :]))
        if len(batch) >= chunk_size:
            yield batch
            batch = []
    if batch:
        yield batch


_EXPORTS.append(
    ExportSpec(
        "disposals",
        "Disposals under the retention schedule",
        "Each run of the retention schedule, kind by kind: the rule, how many records went (or would, in a dry run) "
        "and which, their dates, and how many a hold kept (runs in the dates; the group filter does not apply).",
        headers_override=("disposal_id", *DISPOSAL_COLUMNS[1:]),
        batches=_disposal_batches,
    )
)
EXPORTS: dict[str, ExportSpec] = {spec.key: spec for spec in _EXPORTS}


# --- FOI evidence pack --------------------------------------------------------------------------


@dataclass
class CycleLine:
    cycle: Cycle
    owed: int = 0
    done: int = 0
    late: int = 0
    pending: int = 0
    excused: int = 0
    held: int = 0
    left: int = 0

    @property
    def expected(self) -> int:
        """Those who had to attest: excused and held people, and those who left the
        organisation before attesting (R14), owed nothing."""
        return self.owed - self.excused - self.held - self.left

    @property
    def complete_percent(self) -> int | None:
        return percent(self.done, self.expected)


@dataclass
class FoiPack:
    group: ChatGroup
    filters: Filters
    memberships: list[Membership] = field(default_factory=list)
    cycles: list[CycleLine] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    # Each hold's notices: who was told and whether they acknowledged (issue 20).
    notices: dict[int, list[HoldNotice]] = field(default_factory=dict)
    admin_changes: list[dict] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        keys = ("owed", "done", "late", "pending", "excused", "held", "left")
        totals = {k: sum(getattr(line, k) for line in self.cycles) for k in keys}
        totals["expected"] = totals["owed"] - totals["excused"] - totals["held"] - totals["left"]
        totals["prompted"] = sum(1 for line in self.cycles if line.cycle.prompted_at)
        totals["held_cycles"] = sum(1 for line in self.cycles if line.cycle.hold_id)
        return totals


def foi_pack(*, group_id: int, filters: Filters) -> FoiPack:
    """What the office sends when asked why it holds no WhatsApp messages of a group.

    Six queries whatever the size of the group: the group, its memberships in the range,
    its cycles ending in the range with their counts by status, its holds, who was told
    of each hold and acknowledged it, and the changes of admin (from history).
    """
    group = ChatGroup.objects.select_related("admin", "deputy", "approved_by").get(pk=group_id)
    pack = FoiPack(group=group, filters=filters)
    pack.memberships = list(
        _overlapping(Membership.objects.filter(group=group), "joined_at", "left_at", filters)
        .select_related("user")
        .order_by("joined_at", "pk")
    )
    S = Obligation.Status
    counts = {
        name: Count("obligations", filter=Q(obligations__status__in=statuses))
        for name, statuses in {
            "n_done": [S.ATTESTED, S.LATE],
            "n_late": [S.LATE],
            "n_pending": [S.PENDING],
            "n_excused": [S.EXCUSED],
            "n_held": [S.HELD],
            "n_left": [S.LEFT],
        }.items()
    }
    cycles = (
        _in_range(Cycle.objects.filter(group=group), "period_end", filters)
        .select_related("prompted_by", "hold")
        .annotate(n_owed=Count("obligations"), **counts)
        .order_by("period_end")
    )
    pack.cycles = [
        CycleLine(c, c.n_owed, c.n_done, c.n_late, c.n_pending, c.n_excused, c.n_held, c.n_left) for c in cycles
    ]
    pack.holds = list(
        _overlapping(Hold.objects.filter(group=group), "placed_at", "lifted_at", filters)
        .select_related("placed_by", "lifted_by")
        .order_by("placed_at")
    )
    for notice in (
        HoldNotice.objects.filter(hold__in=pack.holds)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    ):
        pack.notices.setdefault(notice.hold_id, []).append(notice)
    for hold in pack.holds:
        hold.notice_list = pack.notices.get(hold.pk, [])
    admin_changes = (
        ChatGroup.history.filter(id=group.pk)
        .annotate(prev_admin=_prev_value("admin_id"))
        .filter(Q(prev_admin__isnull=True) | ~Q(prev_admin=F("admin_id")))
        .select_related("admin", "history_user")
        .order_by("history_date", "history_id")
    )
    pack.admin_changes = [
        {
            "when": r.history_date,
            "admin": display_name(r.admin),
            "by": display_name(r.history_user) if r.history_user else "",
        }
        for r in admin_changes
    ]
    return pack


def _prev_value(column: str):
    historical = ChatGroup.history.model
    return Subquery(
        historical.objects.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
        .order_by("-history_id")
        .values(column)[:1]
    )
