"""The two ways a CSV export is written: COPY on PostgreSQL, the csv module elsewhere.

Both must give the bytes that formatting each value with `exports.cell` gives (how every
export was written before COPY): formula neutralisation, quoting, line endings, UTC
ISO 8601 times with and without fractions of a second, yes/no, empty cells. The data here
is built to be awkward for each of those.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attestations import models
from attestations.audit import exports
from attestations.audit import history as audit
from attestations.models import ExportLog, HoldNotice, Obligation
from groups.models import GroupReview, PolicyAcknowledgement, PolicyVersion, ReviewAnswer
from tests import factories
from tests.conftest import service_missing

UTC = dt.UTC
COLUMN_EXPORTS = [key for key, spec in audit.EXPORTS.items() if spec.columns]
AWKWARD = [
    "=1+1",
    "+44 20 7946 0000",
    "-5 degrees",
    "@SUM(A1)",
    "\tindented",
    "\rreturn first",
    'says "hi", twice',
    "two\nlines",
    "two\r\nlines",
    "ends in a newline\n",
    "comma, inside",
    " leading space",
    "Zoë’s café ☕ 日本",
    "back\\slash",
    "'already an apostrophe",
    "\\.",
    "bell\x07",
    "plain",
]
# Fractions of a second: none, one microsecond, trailing zeros, all six digits.
MICROSECONDS = [0, 1, 500_000, 123_456]
TIMES = [dt.time(17, 0), dt.time(8, 30, 15), dt.time(23, 59, 59, 500_000)]


def _needs_postgresql():
    if connection.vendor != "postgresql":
        service_missing("COPY is PostgreSQL's: set DATABASE_URL=postgres://… to compare the two ways")


def _moment(i: int) -> dt.datetime:
    # Winter (GMT) and summer (BST) dates alike: the files hold UTC.
    month = 1 if i % 2 else 7
    return dt.datetime(2026, month, 1 + i, 9, i, i, MICROSECONDS[i % len(MICROSECONDS)], tzinfo=UTC)


@pytest.fixture
def awkward(record, dpo):
    """A row in every export for each awkward text, with times of every shape."""
    for i, text in enumerate(AWKWARD):
        when = _moment(i)
        user = factories.UserFactory(username=f"{'-+@=_'[i % 5]}user{i}", first_name=text, last_name=text[::-1])
        group = factories.ChatGroupFactory(
            name=f"{text} {i}",
            purpose=text,
            status_reason=text if i % 2 else "",
            admin=user,
            cycle_time=TIMES[i % len(TIMES)],
            approved_at=when,
        )
        membership = factories.MembershipFactory(
            group=group,
            user=factories.UserFactory(first_name=text[::-1], last_name=text),
            joined_at=when,
            left_at=when + dt.timedelta(days=1) if i % 2 else None,
            added_by=user,
            removed_by=user if i % 2 else None,
        )
        # A review answered about the member, in the review export (R16).
        review = GroupReview.objects.create(group=group, due_at=when, created_at=when, purpose=text, return_reason=text)
        ReviewAnswer.objects.create(review=review, membership=membership, submission=1, keep=bool(i % 2))
        cycle = factories.CycleFactory(group=group, period_end=when, period_start=when - dt.timedelta(days=7))
        on_time = factories.obligation_in_state(
            cycle=cycle, user=user, state="on_time", attested_at=when + dt.timedelta(hours=1)
        )
        excused = factories.obligation_in_state(cycle=cycle, user=factories.UserFactory(), state="excused")
        Obligation.objects.filter(pk=excused.pk).update(excuse_reason=text, excused_at=when)
        factories.FlagFactory(
            cycle=cycle,
            user=user,
            raised_at=when,
            notified_at=when + dt.timedelta(minutes=1) if i % 2 else None,
            resolved_at=when + dt.timedelta(seconds=1, microseconds=1),
        )
        lifted = i % 2 == 1
        hold = factories.HoldFactory(
            group=group,
            reference=f"{text[:20]}-{i}",
            reason=text,
            placed_by=dpo,
            placed_at=when,
            lifted_by=dpo if lifted else None,
            lifted_at=when + dt.timedelta(days=2) if lifted else None,
            lift_reason=text if lifted else "",
        )
        HoldNotice.objects.create(
            hold=hold,
            user=user,
            notified_at=when,
            acknowledged_at=when + dt.timedelta(minutes=5) if lifted else None,
            channel="email" if lifted else "",
            reminded_at=when + dt.timedelta(days=1) if not lifted else None,
        )
        if hasattr(models, "SentEmail"):
            models.SentEmail.objects.create(
                key=f"k{i}",
                kind="prompt",
                user=user,
                group=group,
                cycle=cycle,
                obligation=on_time,
                to_address=f"user{i}@example.org",
                subject=text,
                error=text,
                created_at=when,
                status="sent" if i % 2 else "failed",
                sent_at=when + dt.timedelta(seconds=30) if i % 2 else None,
                attempts=i,
            )
        # The policy's exports (R15): a version and an acknowledgement for each awkward text.
        version = PolicyVersion.objects.create(
            title=text,
            number=f"{i}.{i}",
            effective_on=when.date(),
            text=text,
            changes=text,
            created_by=dpo,
            created_at=when,
            published_by=dpo,
            published_at=when,
        )
        PolicyAcknowledgement.objects.create(
            version=version,
            user=user,
            created_at=when,
            due_at=when + dt.timedelta(days=14),
            acknowledged_at=when + dt.timedelta(hours=1) if i % 2 else None,
        )
        models.DisposalRecord.objects.create(
            run_started_at=when,
            kind=text[:30],
            rule=text,
            period_days=i + 1,
            cutoff=when - dt.timedelta(days=i + 1),
            dry_run=lifted,
            count=i,
            details={text: i},
            held_back=i,
            oldest=when - dt.timedelta(days=400) if i % 3 else None,
            newest=when - dt.timedelta(days=i + 2) if i % 3 else None,
            batches=i,
            longest_batch_ms=i * 7,
            finished_at=when + dt.timedelta(seconds=i, microseconds=i),
        )
    return record


def _body(spec, *, user, method: str = "", chunk_size: int = 0, reference: bool = False) -> tuple[bytes, ExportLog]:
    log = exports.export_log_start(user=user, kind=spec.key, fmt="csv", filters=audit.Filters())
    if reference:
        # Every value through cell(), as all exports were written before COPY.
        pieces = exports.csv_stream(headers=spec.headers, batches=spec.rows(audit.Filters()), log=log)
    else:
        pieces = exports.csv_export(spec=spec, filters=audit.Filters(), log=log, method=method, chunk_size=chunk_size)
    body = b"".join(pieces)
    log.refresh_from_db()
    return body, log


def _cells(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


# --- Both ways, the same bytes -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", COLUMN_EXPORTS)
@pytest.mark.parametrize("chunk_size", [0, 7])  # one piece; several full pieces and a last short one
def test_it_writes_the_same_bytes_by_copy_and_by_python(awkward, auditor, kind, chunk_size):
    _needs_postgresql()
    spec = audit.EXPORTS[kind]
    by_copy, copy_log = _body(spec, user=auditor, method="copy", chunk_size=chunk_size)
    by_python, python_log = _body(spec, user=auditor, method="python", chunk_size=chunk_size)
    reference, _ = _body(spec, user=auditor, reference=True)
    assert by_copy == reference, _first_difference(by_copy, reference)
    assert by_python == reference, _first_difference(by_python, reference)
    assert copy_log.rows == python_log.rows == len(_cells(reference)) - 1 >= len(AWKWARD)
    assert copy_log.sha256 == python_log.sha256 == hashlib.sha256(reference).hexdigest()
    assert copy_log.size == len(reference)


def _first_difference(a: bytes, b: bytes) -> str:
    for n, (x, y) in enumerate(zip(a.split(b"\r\n"), b.split(b"\r\n"), strict=False)):
        if x != y:
            return f"line {n}: {x!r} != {y!r}"
    return f"lengths {len(a)} != {len(b)}"


@pytest.mark.django_db
def test_every_export_of_columns_is_written_by_copy_on_postgresql(db):
    # A column of a kind COPY cannot format would send its export back to Python.
    for kind in COLUMN_EXPORTS:
        assert None not in exports.column_kinds(audit.EXPORTS[kind].values(audit.Filters())), kind


@pytest.mark.django_db
def test_the_view_exports_by_copy_on_postgresql_and_by_python_elsewhere(client, auditor, record):
    client.force_login(auditor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("audit:export", args=["obligations", "csv"]))
        b"".join(response.streaming_content)
    copies = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("COPY")]
    assert len(copies) == (1 if connection.vendor == "postgresql" else 0)


@pytest.mark.django_db(transaction=True)
def test_the_copy_leaves_the_connection_with_its_usual_settings(auditor):
    _needs_postgresql()

    def parallel_workers() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            return cursor.fetchone()[0]

    usual = parallel_workers()
    _body(audit.EXPORTS["register"], user=auditor, method="copy")
    assert parallel_workers() == usual != "0"


# --- What the default way writes ---------------------------------------------------------------


@pytest.mark.django_db
def test_it_neutralises_and_formats_each_kind_of_cell(client, auditor, awkward):
    client.force_login(auditor)
    rows = _cells(b"".join(client.get(reverse("audit:export", args=["register", "csv"])).streaming_content))
    header, rows = rows[0], rows[1:]
    by_name = {row[header.index("name")]: dict(zip(header, row, strict=True)) for row in rows}
    # A formula start gets an apostrophe; quotes, commas and newlines survive the round trip.
    assert by_name["'=1+1 0"]["purpose"] == "'=1+1"
    assert by_name["'\tindented 4"]["purpose"] == "'\tindented"
    assert by_name["'\rreturn first 5"]["purpose"] == "'\rreturn first"
    assert by_name['says "hi", twice 6']["purpose"] == 'says "hi", twice'
    assert by_name["two\r\nlines 8"]["purpose"] == "two\r\nlines"
    assert by_name["Zoë’s café ☕ 日本 12"]["purpose"] == "Zoë’s café ☕ 日本"
    plain = by_name["plain 17"]
    assert plain["admin"] == "'@user17"  # usernames may begin with a formula character too
    assert plain["status_reason"] == "plain"
    bell = by_name["bell\x07 16"]
    assert bell["purpose"] == "bell\x07" and bell["status_reason"] == bell["deputy"] == ""  # '' and NULL alike
    # UTC ISO 8601: a fraction of a second only when there is one, then always six digits.
    assert by_name["'=1+1 0"]["approved_at"] == "2026-07-01T09:00:00+00:00"
    assert by_name["'+44 20 7946 0000 1"]["approved_at"] == "2026-01-02T09:01:01.000001+00:00"
    assert by_name["'-5 degrees 2"]["approved_at"] == "2026-07-03T09:02:02.500000+00:00"
    assert by_name["'@SUM(A1) 3"]["approved_at"] == "2026-01-04T09:03:03.123456+00:00"
    names = ['says "hi", twice 6', "two\nlines 7", "two\r\nlines 8"]
    assert [by_name[name]["cycle_time"] for name in names] == ["17:00:00", "08:30:15", "23:59:59.500000"]


@pytest.mark.django_db
def test_it_writes_dates_and_yes_no_in_the_obligations_export(client, auditor, awkward):
    client.force_login(auditor)
    body = b"".join(client.get(reverse("audit:export", args=["obligations", "csv"])).streaming_content)
    rows = _cells(body)
    rows = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    attested = [r for r in rows if r["status"] == "attested" and r["username"] == "'@user2"]
    [row] = attested
    assert row["attested_at"] == "2026-07-03T10:02:02.500000+00:00"
    assert row["cleared_on"] == "2026-07-03"
    assert (row["confirmed_cleared"], row["confirmed_saved"], row["channel"]) == ("yes", "yes", "web")
    assert row["excused_by"] == row["excused_at"] == row["excuse_reason"] == ""
    excused = [r for r in rows if r["status"] == "excused" and r["excuse_reason"] == "'-5 degrees"]
    assert len(excused) == 1 and excused[0]["confirmed_saved"] == "no"
    assert body.endswith(b"\r\n")


# --- Streaming: a chunk at a time, in a fixed number of queries ----------------------------------


def _many_obligations(record, n: int) -> None:
    users = factories.UserFactory.create_batch(n)
    cycle = record.cycle
    Obligation.objects.bulk_create(
        Obligation(cycle=cycle, user=u, due_at=cycle.due_at, status="pending") for u in users
    )


@pytest.mark.django_db
def test_copy_streams_a_chunk_at_a_time(auditor, record, monkeypatch):
    _needs_postgresql()
    _many_obligations(record, 200)
    read = []
    real = psycopg.Copy.read

    def counting(self):
        data = real(self)
        if data:
            read.append(1)
        return data

    monkeypatch.setattr(psycopg.Copy, "read", counting)
    log = exports.export_log_start(user=auditor, kind="obligations", fmt="csv", filters=audit.Filters())
    pieces = exports.csv_export(
        spec=audit.EXPORTS["obligations"], filters=audit.Filters(), log=log, chunk_size=20, method="copy"
    )
    next(pieces), next(pieces)  # the header, then the first 20 rows
    assert len(read) == 20, "COPY was read beyond the first chunk"
    rest = b"".join(pieces)
    assert len(read) == 202 and rest.count(b"\r\n") == 182
    log.refresh_from_db()
    assert log.rows == 202


@pytest.mark.django_db
def test_a_client_that_hangs_up_mid_export_leaves_the_connection_usable(auditor, record):
    _many_obligations(record, 50)
    log = exports.export_log_start(user=auditor, kind="obligations", fmt="csv", filters=audit.Filters())
    pieces = exports.csv_export(spec=audit.EXPORTS["obligations"], filters=audit.Filters(), log=log, chunk_size=10)
    next(pieces), next(pieces)
    pieces.close()  # what the server does when the client goes away
    log.refresh_from_db()
    assert log.sha256 == "" and log.finished_at is None
    assert Obligation.objects.count() == 52  # the connection answers the next query


@pytest.mark.django_db
@pytest.mark.parametrize("kind", COLUMN_EXPORTS)
def test_the_number_of_queries_does_not_grow_with_the_rows(client, auditor, record, kind, monkeypatch):
    monkeypatch.setattr(audit, "CHUNK_SIZE", 5)  # several chunks, on either way
    client.force_login(auditor)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("audit:export", args=[kind, "csv"]))
            b"".join(response.streaming_content)
        return len(captured)

    before = queries()
    _many_obligations(record, 30)
    for n in range(3):
        group = factories.ChatGroupFactory(name=f"Extra {n}")
        factories.MembershipFactory(group=group)
        factories.HoldFactory(group=group)
    assert queries() == before
