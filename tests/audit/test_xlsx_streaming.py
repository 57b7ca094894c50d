"""XLSX exports written as they are sent: the file opens, holds every row, neutralises formulas,
is logged with the hash of the bytes sent, and is the same whether PostgreSQL or Python
writes the sheet."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from attestations.audit import exports
from attestations.audit import history as audit
from attestations.models import ExportLog, Obligation
from tests import factories
from tests.audit.test_export_paths import AWKWARD, COLUMN_EXPORTS, _needs_postgresql, awkward  # noqa: F401

EVIL = '=HYPERLINK("http://x")'


def _sheet(body: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def many(record, member):
    """Enough clear-downs for several pieces, in a group whose name is a formula."""
    group = factories.ChatGroupFactory(name=EVIL)
    for week in range(1, 13):
        cycle = factories.CycleFactory(group=group, period_end=record.cycle.period_end - dt.timedelta(weeks=week))
        factories.obligation_in_state(cycle=cycle, user=member, state="pending")
    return record


@pytest.mark.django_db
def test_a_large_workbook_is_sent_as_it_is_made_and_holds_every_row(client, auditor, many, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_WHOLE_ROWS", 3)
    monkeypatch.setattr(audit, "CHUNK_SIZE", 4)
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["obligations", "xlsx"]))
    assert response.status_code == 200 and response.streaming
    assert "Content-Length" not in response and "Digest" not in response  # not known before the end
    log = ExportLog.objects.get(pk=response["X-Export-Log"])
    assert reverse("audit:export_detail", args=[log.pk]) in response["Link"]
    pieces = list(response.streaming_content)
    assert len(pieces) > 3  # the fixed parts, then the rows four at a time, then the end
    body = b"".join(pieces)
    rows = _sheet(body)
    assert rows[0] == audit.EXPORTS["obligations"].headers
    assert sorted(r[0] for r in rows[1:]) == sorted(Obligation.objects.values_list("pk", flat=True))
    assert "'" + EVIL in [r[2] for r in rows[1:]]
    assert not [c for r in rows for c in r if isinstance(c, str) and c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    log.refresh_from_db()
    assert log.rows == len(rows) - 1 == Obligation.objects.count()
    assert log.size == len(body) and log.sha256 == hashlib.sha256(body).hexdigest()
    assert log.finished_at is not None


@pytest.mark.django_db
def test_a_small_workbook_is_made_whole_with_its_hash_in_the_headers(client, auditor, many):
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["obligations", "xlsx"]))
    body = b"".join(response.streaming_content)
    assert response["Content-Length"] == str(len(body))
    assert response["X-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    assert len(_sheet(body)) == Obligation.objects.count() + 1


@pytest.mark.django_db
def test_an_unfinished_xlsx_download_is_logged_without_a_hash(client, auditor, many, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_WHOLE_ROWS", 3)
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["obligations", "xlsx"]))
    next(iter(response.streaming_content))  # the client hangs up after the first piece
    log = ExportLog.objects.get(pk=response["X-Export-Log"])
    assert log.sha256 == "" and log.finished_at is None


def test_the_workbook_is_a_zip_of_the_parts_a_spreadsheet_needs():
    pieces = exports._xlsx_pieces("A & B <title>", ["a", "b"], iter([(b"<row><c><v>1</v></c><c/></row>\n", 1)]))
    body = b"".join(piece for piece, _ in pieces)
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        assert book.testzip() is None
        assert set(book.namelist()) == {
            "[Content_Types].xml",
            "_rels/.rels",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
            "xl/workbook.xml",
            "xl/worksheets/sheet1.xml",
        }
    workbook = load_workbook(io.BytesIO(body))
    assert workbook.sheetnames == ["A & B <title>"]
    assert [[c.value for c in row] for row in workbook.active.iter_rows()] == [["a", "b"], [1, None]]


def test_each_value_becomes_the_cell_a_spreadsheet_shows():
    rows = [("=1+1", 7, None, "", "a & <b>\tc\nd\re\x07", True, " lead")]
    body = b"".join(p for p, _ in exports._xlsx_pieces("t", list("abcdefg"), exports._xml_rows_python(iter([rows]))))
    assert _sheet(body)[1] == ["'=1+1", 7, None, None, "a & <b>\tc\nd\re", "yes", " lead"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", COLUMN_EXPORTS)
@pytest.mark.parametrize("chunk_size", [0, 7])
def test_it_writes_the_same_sheet_by_copy_and_by_python(awkward, auditor, kind, chunk_size):  # noqa: F811
    _needs_postgresql()
    spec = audit.EXPORTS[kind]
    bodies, logs = [], []
    for method in ("copy", "python"):
        log = exports.export_log_start(user=auditor, kind=kind, fmt="xlsx", filters=audit.Filters())
        pieces = exports.xlsx_export(spec=spec, filters=audit.Filters(), log=log, method=method, chunk_size=chunk_size)
        bodies.append(b"".join(piece for piece, _ in pieces))
        log.refresh_from_db()
        logs.append(log)
    sheets = [zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml") for body in bodies]
    assert sheets[0] == sheets[1]
    assert logs[0].rows == logs[1].rows >= len(AWKWARD)
    assert logs[0].sha256 == hashlib.sha256(bodies[0]).hexdigest()
    rows = _sheet(bodies[0])
    assert len(rows) == logs[0].rows + 1
    assert not [c for r in rows for c in r if isinstance(c, str) and c[:1] in ("=", "+", "-", "@", "\t", "\r")]


@pytest.mark.django_db
def test_the_history_is_counted_not_read_to_decide_how_its_workbook_is_sent(client, auditor, many, monkeypatch):
    changes = audit.history_count_at_most(audit.HistoryFilters(), 10**6)
    assert changes > 10
    # Counted up to the limit only, whatever the kinds of record.
    for limit in (1, 4, changes, changes + 5):
        assert audit.history_count_at_most(audit.HistoryFilters(), limit) == min(limit, changes)
    assert audit.history_count_at_most(audit.HistoryFilters(kind="obligation"), 10**6) == Obligation.history.count()
    monkeypatch.setattr(exports, "XLSX_WHOLE_ROWS", 3)
    described = []
    real = audit._describe
    monkeypatch.setattr(audit, "_describe", lambda *args: described.append(1) or real(*args))
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["history", "xlsx"]))
    assert response.status_code == 200 and "Content-Length" not in response
    assert described == []  # nothing read before the response goes
    rows = _sheet(b"".join(response.streaming_content))
    assert len(rows) - 1 == len(described) == changes


@pytest.mark.django_db
def test_a_short_history_workbook_is_made_whole(client, auditor, many):
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["history", "xlsx"]))
    body = b"".join(response.streaming_content)
    assert response["Content-Length"] == str(len(body))
    assert len(_sheet(body)) - 1 == audit.history_count_at_most(audit.HistoryFilters(), 10**6)
