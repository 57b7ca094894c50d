"""Subject access (UK GDPR Art. 15): everything the portal holds about one person, one file.

The file is a zip of CSV files, one per kind of record, and a `contents.txt` that says
what each file is and how many rows it has. Why this shape: a person asking for their data
must be able to open it without special software, and the kinds of record have different
columns, so one table would be mostly empty cells; every office computer opens a zip and
a CSV (a spreadsheet, or a text editor), and CSV is what the portal's other exports are.
JSON would suit a machine better than the person; one XLSX would need the whole workbook on
disk before the first byte could leave.

Each kind is one `RecordKind` in `KINDS`: a file name, its columns and a function that
yields the person's rows in batches. A new kind of record is one more entry. Every query
is filtered by the person: rows of other people never enter the file. Where a record
names someone else acting for the office (who excused them, who gave them a role), that
name is part of the record about the person and is given, as the ICO's guidance on staff
acting in an official capacity allows; the changes *they* made to other people's records are
listed by kind, date and record number only, without those records' contents.

Streamed: the zip is written as a stream (each file's sizes follow its data), rows are
read in chunks, so memory stays flat however large the record.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from groups.models import ChatGroup, ExternalIdentity, Membership, PolicyAcknowledgement, RoleChange, StaffProfile
from opcc_portal.lib.text import display_name, full_name

from .. import periods
from ..models import CalendarFeed, Cycle, ExportLog, Flag, Hold, HoldNotice, Obligation, SentEmail
from .exports import cell, export_log_finish

CHUNK_SIZE = 2_000
EXPORT_KIND = "subject-access"

Rows = Iterator[list[tuple]]


@dataclass(frozen=True)
class RecordKind:
    key: str  # the file's name, without .csv
    title: str  # what the file holds, in contents.txt
    headers: list[str]
    rows: Callable[[object], Rows]


def _chunked(values: QuerySet, convert: Callable[[tuple], tuple] | None = None) -> Rows:
    batch: list[tuple] = []
    for row in values.iterator(chunk_size=CHUNK_SIZE):
        batch.append(convert(row) if convert else row)
        if len(batch) == CHUNK_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _named(prefix: str) -> list[str]:
    """The columns that name a person linked by `prefix` (who excused, who added)."""
    return [f"{prefix}__username", f"{prefix}__first_name", f"{prefix}__last_name"]


def _with_names(*name_slots: int) -> Callable[[tuple], tuple]:
    """Turn each (username, first, last) triple starting at a slot into one display name."""

    def convert(row: tuple) -> tuple:
        out, i = [], 0
        while i < len(row):
            if i in name_slots:
                out.append(full_name(*row[i : i + 3]) if row[i] else None)
                i += 3
            else:
                out.append(row[i])
                i += 1
        return tuple(out)

    return convert


# --- One function per kind of record -----------------------------------------------------------


def _profile(person) -> Rows:
    profile = StaffProfile.objects.filter(user=person).first()
    roles = "; ".join(person.groups.order_by("name").values_list("name", flat=True))
    yield [
        (
            person.username,
            person.first_name,
            person.last_name,
            person.email,
            person.is_active,
            person.date_joined,
            person.last_login,
            roles,
            profile.staff_number if profile else None,
            profile.external_id if profile else None,
            profile.deactivated_at if profile else None,
            profile.deactivation_reason if profile else None,
        )
    ]


def _identities(person) -> Rows:
    return _chunked(
        ExternalIdentity.objects.filter(user=person)
        .order_by("linked_at", "pk")
        .values_list("issuer", "subject", "linked_at", "linked_by", "last_sign_in_at", "provider_roles")
    )


def _memberships(person) -> Rows:
    values = (
        Membership.objects.filter(user=person)
        .order_by("joined_at", "pk")
        .values_list("group__name", "joined_at", "left_at", *_named("added_by"), *_named("removed_by"))
    )
    return _chunked(values, _with_names(3, 6))


def _groups_run(person) -> Rows:
    rows = []
    for group in ChatGroup.objects.filter(
        Q(admin=person) | Q(deputy=person) | Q(proposed_by=person) | Q(approved_by=person)
    ).order_by("name", "pk"):
        parts = [
            label
            for label, field in [
                ("admin", "admin_id"),
                ("deputy", "deputy_id"),
                ("proposed it", "proposed_by_id"),
                ("approved it", "approved_by_id"),
            ]
            if getattr(group, field) == person.pk
        ]
        rows.append((group.name, group.get_status_display(), "; ".join(parts)))
    if rows:
        yield rows


def _clear_downs(person) -> Rows:
    values = (
        Obligation.objects.filter(user=person)
        .order_by("cycle__period_end", "pk")
        .values_list(
            "cycle__group__name",
            "cycle__period_start",
            "cycle__period_end",
            "due_at",
            "status",
            "attested_at",
            "cleared_on",
            "confirmed_cleared",
            "confirmed_saved",
            "where_saved",
            "channel",
            "excused_at",
            *_named("excused_by"),
            "excuse_reason",
            "prompt_emailed_at",
            "reminder_sent_at",
            "ledger_entry__hash",
        )
    )
    return _chunked(values, _with_names(12))


def _flags(person) -> Rows:
    return _chunked(
        Flag.objects.filter(user=person)
        .order_by("raised_at", "pk")
        .values_list(
            "kind", "group__name", "cycle__period_end", "raised_at", "notified_at", "escalated_at", "resolved_at"
        )
    )


def _hold_notices(person) -> Rows:
    return _chunked(
        HoldNotice.objects.filter(user=person)
        .order_by("notified_at", "pk")
        .values_list(
            "hold__group__name",
            "hold__reference",
            "notified_at",
            "acknowledged_at",
            "channel",
            "reminded_at",
            "escalated_at",
            "released_at",
        )
    )


def _emails(person) -> Rows:
    # Subject, kind, when and result: never the body, which for the DPO's digests names others.
    return _chunked(
        SentEmail.objects.filter(user=person)
        .order_by("created_at", "pk")
        .values_list("created_at", "kind", "subject", "to_address", "status", "sent_at", "attempts")
    )


def _policy_acknowledgements(person) -> Rows:
    return _chunked(
        PolicyAcknowledgement.objects.filter(user=person)
        .order_by("created_at", "pk")
        .values_list(
            "version__number",
            "version__title",
            "created_at",
            "due_at",
            "acknowledged_at",
            "reminder_sent_at",
            "overdue_notified_at",
        )
    )


def _role_changes(person) -> Rows:
    values = (
        RoleChange.objects.filter(user=person)
        .order_by("at", "pk")
        .values_list("at", "role", "action", *_named("by"), "reason")
    )
    return _chunked(values, _with_names(3))


def _exports_by(person) -> Rows:
    def convert(row: tuple) -> tuple:
        kind, filters = row[0], row[2] or {}
        if kind == EXPORT_KIND:
            # Whose record they exported is another person's data.
            filters = {"person": "withheld (another person)"}
        text = "; ".join(f"{k}={v}" for k, v in sorted(filters.items()) if v not in (None, ""))
        return (kind, row[1], text, *row[3:])

    return _chunked(
        ExportLog.objects.filter(user=person)
        .order_by("started_at", "pk")
        .values_list("kind", "format", "filters", "started_at", "finished_at", "rows", "size", "sha256"),
        convert,
    )


def _calendar_feed(person) -> Rows:
    # The feed's address is a secret that opens the person's calendar: not written to a file
    # that travels by email; they see it on their own calendar page.
    return _chunked(CalendarFeed.objects.filter(user=person).values_list("created_at", "reset_at"))


def _sign_ins(person) -> Rows:
    name = person.get_username()
    yield from _chunked(
        AccessLog.objects.filter(username__iexact=name)
        .order_by("attempt_time", "pk")
        .values_list("attempt_time", "logout_time", "ip_address", "user_agent", "path_info"),
        lambda r: ("signed in", *r, None),
    )
    yield from _chunked(
        AccessFailureLog.objects.filter(username__iexact=name)
        .order_by("attempt_time", "pk")
        .values_list("attempt_time", "ip_address", "user_agent", "path_info", "locked_out"),
        lambda r: ("failed sign-in" + (" (locked out)" if r[4] else ""), r[0], None, *r[1:4], None),
    )
    yield from _chunked(
        AccessAttempt.objects.filter(username__iexact=name)
        .order_by("attempt_time", "pk")
        .values_list("attempt_time", "ip_address", "user_agent", "path_info", "failures_since_start"),
        lambda r: ("failed sign-ins still counted", r[0], None, *r[1:4], r[4]),
    )


# Models whose history rows are about one person: (label, model, the person's field).
_ABOUT = [
    ("membership", Membership, "user"),
    ("clear-down", Obligation, "user"),
    ("flag", Flag, "user"),
    ("hold notice", HoldNotice, "user"),
    ("email", SentEmail, "user"),
    ("staff profile", StaffProfile, "user"),
    ("sign-in identity", ExternalIdentity, "user"),
]
# Every model with history: what a person changed is listed by kind, date and record number.
_HISTORIES = [
    ("group", ChatGroup),
    ("membership", Membership),
    ("week", Cycle),
    ("clear-down", Obligation),
    ("flag", Flag),
    ("hold", Hold),
    ("hold notice", HoldNotice),
    ("email", SentEmail),
    ("staff profile", StaffProfile),
    ("sign-in identity", ExternalIdentity),
]
_CHANGE = {"+": "created", "~": "changed", "-": "deleted"}


def _history_about(person) -> Rows:
    for label, model, field in _ABOUT:
        values = (
            model.history.filter(**{f"{field}_id": person.pk})
            .order_by("history_date", "history_id")
            .values_list("history_date", "id", "history_type", *_named("history_user"), "history_change_reason")
        )
        yield from _chunked(
            values,
            lambda r, label=label: (
                r[0],
                label,
                r[1],
                _CHANGE.get(r[2], r[2]),
                full_name(*r[3:6]) if r[3] else None,
                r[6],
            ),
        )


def _history_by(person) -> Rows:
    for label, model in _HISTORIES:
        values = (
            model.history.filter(history_user=person)
            .order_by("history_date", "history_id")
            .values_list("history_date", "id", "history_type", "history_change_reason")
        )
        yield from _chunked(values, lambda r, label=label: (r[0], label, r[1], _CHANGE.get(r[2], r[2]), r[3]))


KINDS: list[RecordKind] = [
    RecordKind(
        "profile",
        "Your account and staff record",
        [
            "username",
            "first_name",
            "last_name",
            "email",
            "active",
            "account_created",
            "last_sign_in",
            "roles",
            "staff_number",
            "directory_id",
            "account_closed_at",
            "account_closed_reason",
        ],
        _profile,
    ),
    RecordKind(
        "identities",
        "Sign-in identities from the office's identity provider",
        ["issuer", "subject", "linked_at", "linked_by", "last_sign_in_at", "provider_roles"],
        _identities,
    ),
    RecordKind(
        "memberships",
        "Your memberships of WhatsApp groups, joined and left",
        ["group", "joined_at", "left_at", "added_by", "removed_by"],
        _memberships,
    ),
    RecordKind(
        "groups_run",
        "Groups you run, proposed or approved",
        ["group", "group_status", "your_part"],
        _groups_run,
    ),
    RecordKind(
        "clear_downs",
        "Your weekly clear-downs and attestations (with each one's ledger hash)",
        [
            "group",
            "week_start",
            "week_end",
            "due_at",
            "status",
            "attested_at",
            "cleared_on",
            "confirmed_cleared",
            "confirmed_saved",
            "where_saved",
            "channel",
            "excused_at",
            "excused_by",
            "excuse_reason",
            "prompt_emailed_at",
            "reminder_sent_at",
            "ledger_hash",
        ],
        _clear_downs,
    ),
    RecordKind(
        "flags",
        "Flags raised on you (overdue clear-downs, prompts not issued)",
        ["kind", "group", "week_end", "raised_at", "reported_at", "escalated_at", "resolved_at"],
        _flags,
    ),
    RecordKind(
        "hold_notices",
        "Hold notices sent to you and your acknowledgements",
        [
            "group",
            "hold_reference",
            "told_at",
            "acknowledged_at",
            "acknowledged_by",
            "reminded_at",
            "reported_to_dpo_at",
            "told_of_release_at",
        ],
        _hold_notices,
    ),
    RecordKind(
        "emails",
        "Emails the portal sent you (subject, kind, when, result; not their text)",
        ["created_at", "kind", "subject", "to_address", "status", "sent_at", "attempts"],
        _emails,
    ),
    RecordKind(
        "policy_acknowledgements",
        "The policy's versions you were asked to acknowledge, and when you did",
        ["version", "title", "asked_at", "due_at", "acknowledged_at", "reminded_at", "reported_overdue_at"],
        _policy_acknowledgements,
    ),
    RecordKind(
        "role_changes",
        "Roles given to you and taken away",
        ["at", "role", "action", "by", "reason"],
        _role_changes,
    ),
    RecordKind(
        "exports",
        "Exports of the record you made",
        ["kind", "format", "filters", "started_at", "finished_at", "rows", "size", "sha256"],
        _exports_by,
    ),
    RecordKind(
        "calendar_feed",
        "Your calendar feed (its secret address is not included)",
        ["created_at", "reset_at"],
        _calendar_feed,
    ),
    RecordKind(
        "sign_ins",
        "Sign-ins, failed sign-ins and lock-outs under your username",
        ["event", "at", "signed_out_at", "address", "browser", "path", "failures"],
        _sign_ins,
    ),
    RecordKind(
        "history_about_you",
        "Changes to records about you, with who made them and why",
        ["at", "record", "record_number", "change", "by", "reason"],
        _history_about,
    ),
    RecordKind(
        "history_by_you",
        "Changes you made to the record (kind, date and number; not other people's details)",
        ["at", "record", "record_number", "change", "reason"],
        _history_by,
    ),
]


# --- The file ----------------------------------------------------------------------------------


class _Pipe:
    """A write-only stream the zip writes to; what was written is taken out piece by piece."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def write(self, data) -> int:
        self.pieces.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.pieces)
        self.pieces.clear()
        return data


def _csv_pieces(kind: RecordKind, person, counts: dict[str, int]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # A byte-order mark so that Excel reads UTF-8 names correctly.
    buffer.write("\ufeff")
    writer.writerow(kind.headers)
    counts[kind.key] = 0
    for batch in kind.rows(person):
        writer.writerows([cell(v) for v in row] for row in batch)
        counts[kind.key] += len(batch)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


def _contents(person, *, made_at: dt.datetime, made_by, counts: dict[str, int], kinds: list[RecordKind]) -> bytes:
    lines = [
        f"Everything the clear-down portal holds about {display_name(person)} ({person.get_username()}).",
        f"Made on {made_at.astimezone(periods.LONDON):%-d %B %Y at %H:%M} (UK time) by {display_name(made_by)},",
        "in answer to a subject access request (UK GDPR Article 15).",
        "",
        "The portal stores no WhatsApp messages: only who confirmed clearing which group's chat,",
        "and when. Times are UTC (ISO 8601), dates ISO; cells that a spreadsheet would read as a",
        "formula start with an apostrophe. Each file opens in a spreadsheet or a text editor.",
        "",
        "Files:",
    ]
    lines += [
        f"  {k.key}.csv: {k.title} ({counts.get(k.key, 0)} row{'s' if counts.get(k.key) != 1 else ''})" for k in kinds
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def subject_access_zip(
    *, person, made_by, log: ExportLog, kinds: list[RecordKind] | None = None, now: dt.datetime | None = None
) -> Iterator[bytes]:
    """Yield the zip file in pieces, hashing it as it goes; the export log row is finished
    with the rows, size and SHA-256 after the last byte."""
    kinds = KINDS if kinds is None else kinds
    made_at = now or timezone.now()
    stamp = made_at.astimezone(periods.LONDON).timetuple()[:6]
    pipe = _Pipe()
    digest, size, counts = hashlib.sha256(), 0, {}

    def out() -> Iterator[bytes]:
        nonlocal size
        data = pipe.take()
        if data:
            digest.update(data)
            size += len(data)
            yield data

    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_DEFLATED) as zf:
        for kind in kinds:
            info = zipfile.ZipInfo(f"{kind.key}.csv", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, mode="w", force_zip64=True) as f:
                for piece in _csv_pieces(kind, person, counts):
                    f.write(piece)
                    yield from out()
            yield from out()
        info = zipfile.ZipInfo("contents.txt", date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, _contents(person, made_at=made_at, made_by=made_by, counts=counts, kinds=kinds))
    yield from out()
    export_log_finish(log=log, rows=sum(counts.values()), size=size, sha256=digest.hexdigest())


def people_matching(text: str, *, limit: int = 50) -> QuerySet:
    """People whose name, username or email contains every word of `text` (at most 5 words)."""
    qs = get_user_model().objects.order_by("last_name", "first_name", "username", "pk")
    for word in text.split()[:5]:
        qs = qs.filter(
            Q(username__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
        )
    return qs[:limit]
