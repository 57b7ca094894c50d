"""Exports: every kind in CSV and XLSX, filters, formula neutralisation, streaming, logging."""

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal

import psycopg
import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from attestations import models
from attestations.audit import history as audit
from attestations.audit.exports import cell, neutralise
from attestations.models import ExportLog
from groups.models import PolicyAcknowledgement
from tests import factories
from tests.audit.conftest import make_record

KINDS = list(audit.EXPORTS)
EVIL = '=HYPERLINK("http://x")'


def _download(client, kind, fmt, **params):
    response = client.get(reverse("audit:export", args=[kind, fmt]), params)
    assert response.status_code == 200, response
    body = b"".join(response.streaming_content)
    return response, body


def _rows(body: bytes, fmt: str) -> list[list[str]]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def test_it_neutralises_every_formula_start():
    for start in "=+-@\t\r":
        assert neutralise(start + "1") == "'" + start + "1"
    assert neutralise("Urgent Ops") == "Urgent Ops"


def test_each_kind_of_value_becomes_one_cell():
    assert cell(None) == ""
    assert cell("=SUM(A1)") == "'=SUM(A1)" and cell("Urgent Ops") == "Urgent Ops"
    assert cell(7) == 7 and cell(True) == "yes" and cell(False) == "no"
    assert (
        cell(dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == "2026-03-29T01:30:00+00:00"
    )
    assert cell(dt.date(2026, 3, 29)) == "2026-03-29" and cell(dt.time(9, 5)) == "09:05:00"
    assert cell(Decimal("-1.5")) == "'-1.5"  # anything else is text, neutralised


def test_it_offers_the_emails_export_when_the_portal_records_emails():
    assert ("emails" in audit.EXPORTS) is hasattr(models, "SentEmail")


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_neutralises_a_formula_group_name_in_every_export(client, auditor, dpo, member, admin_user, clock, fmt):
    group = factories.ChatGroupFactory(name=EVIL, admin=admin_user)
    factories.MembershipFactory(group=group, user=member)
    make_record(group=group, member=member, admin_user=admin_user, dpo=dpo, reference="+FOI-1")
    if hasattr(models, "SentEmail"):
        models.SentEmail.objects.create(
            key="x", kind="prompt", user=member, group=group, subject="@subject", created_at=timezone.now()
        )
    # The policy's exports (R15) name no group: a version with the same title stands in.
    version = factories.policy_version(number="2.0", by=dpo, title=EVIL)
    PolicyAcknowledgement.objects.create(version=version, user=member, created_at=timezone.now(), due_at=timezone.now())
    # The disposals are no group's: their rule's text stands in for the group's name.
    now = timezone.now()
    models.DisposalRecord.objects.create(
        run_started_at=now, kind="-kind", rule=EVIL, period_days=1, cutoff=now, finished_at=now, details={"=x": 1}
    )
    client.force_login(auditor)
    for kind in KINDS:
        _, body = _download(client, kind, fmt)
        cells = [c for row in _rows(body, fmt) for c in row]
        assert "'" + EVIL in cells or any(c.startswith("'" + EVIL) for c in cells), kind
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], kind


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_it_exports_each_kind_as_csv_and_xlsx_with_the_same_rows(client, auditor, record, kind):
    client.force_login(auditor)
    _, csv_body = _download(client, kind, "csv")
    _, xlsx_body = _download(client, kind, "xlsx")
    csv_rows, xlsx_rows = _rows(csv_body, "csv"), _rows(xlsx_body, "xlsx")
    assert csv_rows[0] == audit.EXPORTS[kind].headers == xlsx_rows[0]
    assert len(csv_rows) == len(xlsx_rows)
    assert [r[0] for r in csv_rows] == [r[0] for r in xlsx_rows]


@pytest.mark.django_db
def test_it_filters_by_group_and_dates(client, auditor, record, dpo):
    other = factories.ChatGroupFactory(name="Other Team")
    client.force_login(auditor)
    rows = _rows(_download(client, "register", "csv")[1], "csv")
    assert {r[1] for r in rows[1:]} == {"Urgent Ops", "Other Team"}
    rows = _rows(_download(client, "register", "csv", group=other.pk)[1], "csv")
    assert [r[1] for r in rows[1:]] == ["Other Team"]
    rows = _rows(_download(client, "obligations", "csv", group=record.group.pk)[1], "csv")
    assert len(rows) == 3
    # The cycle ended on Friday 6 November 2026.
    friday = {"from": "2026-11-06", "to": "2026-11-06"}
    assert len(_rows(_download(client, "obligations", "csv", **friday)[1], "csv")) == 3
    assert len(_rows(_download(client, "obligations", "csv", **{"from": "2026-11-07"})[1], "csv")) == 1
    assert len(_rows(_download(client, "history", "csv", group=other.pk)[1], "csv")) == 3  # header, group, admin
    response = client.get(reverse("audit:export", args=["register", "csv"]), {"from": "2026-12-01", "to": "2026-01-01"})
    assert response.status_code == 400


@pytest.mark.django_db
def test_it_logs_each_export_with_rows_and_the_hash_of_the_bytes_sent(client, auditor, record):
    client.force_login(auditor)
    response, body = _download(client, "obligations", "csv", group=record.group.pk)
    log = ExportLog.objects.get(pk=response["X-Export-Log"])
    assert log.user == auditor and log.kind == "obligations" and log.format == "csv"
    assert log.filters == {"from": None, "to": None, "group": record.group.pk}
    assert log.rows == 2 and log.size == len(body) and log.finished_at is not None
    assert log.sha256 == hashlib.sha256(body).hexdigest()
    assert reverse("audit:export_detail", args=[log.pk]) in response["Link"]
    looked_up = client.get(reverse("audit:export_sha256", args=[log.pk]))
    assert looked_up.content.decode().strip() == log.sha256

    response, body = _download(client, "holds", "xlsx")
    log = ExportLog.objects.get(pk=response["X-Export-Log"])
    assert response["X-Content-SHA256"] == log.sha256 == hashlib.sha256(body).hexdigest()
    import base64

    assert response["Digest"] == "sha-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert log.rows == 1


@pytest.mark.django_db
def test_an_unfinished_csv_download_is_logged_without_a_hash(client, auditor, record):
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["register", "csv"]))
    next(iter(response.streaming_content))  # the client hangs up after the first piece
    log = ExportLog.objects.get(pk=response["X-Export-Log"])
    assert log.sha256 == "" and log.finished_at is None
    assert client.get(reverse("audit:export_sha256", args=[log.pk])).status_code == 409


@pytest.mark.django_db
def test_a_large_csv_export_is_streamed_in_chunks_never_all_at_once(client, auditor, record, monkeypatch):
    from django.db.models.sql import compiler

    cycle = record.cycle
    users = factories.UserFactory.create_batch(200)
    models.Obligation.objects.bulk_create(
        models.Obligation(cycle=cycle, user=u, due_at=cycle.due_at, status="pending") for u in users
    )
    fetched = []
    real = compiler.cursor_iter

    def counting(*args, **kwargs):
        for rows in real(*args, **kwargs):
            fetched.append(len(rows))
            yield rows

    def counting_copy(copy):
        data = real_read(copy)
        if data:
            fetched.append(1)  # COPY sends one row at a time
        return data

    real_read = psycopg.Copy.read
    monkeypatch.setattr(compiler, "cursor_iter", counting)
    monkeypatch.setattr(psycopg.Copy, "read", counting_copy)
    monkeypatch.setattr(audit, "CHUNK_SIZE", 20)
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["obligations", "csv"]))
    assert response.streaming
    fetched.clear()  # what signing in and permissions read is not the export
    pieces = iter(response.streaming_content)
    next(pieces), next(pieces)  # the header, then the first batch of rows
    assert sum(fetched) <= 40, "more rows were read than the first chunks"
    rest = b"".join(pieces)
    assert sum(fetched) == 202 and max(fetched) <= 20  # 200 + the record's 2
    assert rest.count(b"\n") == 202 - 20  # the rows after the first batch


def test_the_clear_down_and_flag_exports_say_when_a_group_was_suspended(client, auditor, record, dpo):
    """R13: a clear-down still owed although its group no longer runs carries the reason."""
    from groups import services as group_services

    group = group_services.chatgroup_transition(group=record.group, action="suspend", by=dpo, reason="Paused")
    client.force_login(auditor)
    for kind in ("obligations", "flags"):
        header, *rows = _rows(_download(client, kind, "csv", group=record.group.pk)[1], "csv")
        status, changed = header.index("group_status"), header.index("group_status_changed_at")
        assert rows and {(row[status], row[changed]) for row in rows} == {
            ("suspended", group.status_changed_at.astimezone(timezone.get_current_timezone()).isoformat())
        }
