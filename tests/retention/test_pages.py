"""The retention page (DPO and auditors), the disposals export, and the ledger's anchor on the
FOI pack and in the DPO's weekly summary."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attestations import ledger, retention
from attestations.models import LedgerEntry, SentEmail
from attestations.notifications import emails
from tests import factories
from tests.retention.conftest import NOW, OLD, attest


@pytest.mark.django_db
def test_the_page_shows_the_schedule_the_next_run_and_what_went(client, auditor, world):
    retention.retention_run(dry_run=True)
    client.force_login(auditor)
    html = client.get(reverse("audit:retention")).content.decode()
    assert html.count("<h1") == 1 and "Retention schedule" in html
    row = html.split('id="plan-clear_downs"')[1].split("</tr>")[0]
    assert "90 days" in row and "The week&#x27;s deadline" in row
    assert ">8<br>" in row and "5 obligations, 4 ledger entries, 3 cycles" in row
    assert ">6</td>" in row  # kept by the held group's hold
    assert "Kept for as long as the portal is in use" in html.split('id="plan-register_history"')[1].split("</tr>")[0]
    assert "Dry run: nothing removed" in html
    assert "No ledger entry has been disposed of" in html


@pytest.mark.django_db
def test_after_a_run_the_page_shows_the_record_and_the_checkpoints(client, dpo, world):
    retention.retention_run()
    client.force_login(dpo)
    html = client.get(reverse("audit:retention")).content.decode()
    records = html.split('class="table table-sm align-top retention-records"')[1]
    assert "<td>Clear-downs and attestations</td>" in records
    assert "Clear-downs and attestations: 90 days after the week&#x27;s deadline" in records
    assert "Entries #1 to #2 (2)" in html and "Entries #5 to #6 (2)" in html
    # The next run would now find nothing more of the clear-downs.
    row = html.split('id="plan-clear_downs"')[1].split("</tr>")[0]
    assert '<td class="text-end">0</td>' in row and "obligations" not in row


@pytest.mark.django_db
def test_the_page_says_when_disposal_is_switched_off(client, dpo, settings, schedule):
    settings.RETENTION_DISPOSE = False
    client.force_login(dpo)
    assert "Disposal is switched off" in client.get(reverse("audit:retention")).content.decode()


def _pile(n: int, dpo) -> None:
    """`n` old weeks of one person in as many groups, and as many recent ones."""
    person = factories.UserFactory()
    for i in range(n):
        group = factories.ChatGroupFactory(name=f"Group {n}-{i}")
        attest(factories.CycleFactory(group=group, period_end=OLD), person, when=OLD + dt.timedelta(days=1))
        attest(factories.CycleFactory(group=group, period_end=NOW - dt.timedelta(days=3)), person, when=NOW)


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("audit:retention")).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_the_page_runs_the_same_queries_however_much_is_due(client, dpo, schedule, time_machine):
    time_machine.move_to(NOW, tick=False)
    client.force_login(dpo)
    _pile(1, dpo)
    retention.retention_run(dry_run=True)
    few = _queries(client)
    _pile(6, dpo)
    retention.retention_run(dry_run=True, now=NOW + dt.timedelta(seconds=1))
    assert _queries(client) == few <= 50


@pytest.mark.django_db
def test_the_disposals_export_holds_each_run_kind_by_kind(client, auditor, world):
    retention.retention_run()
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["disposals", "csv"]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    by_kind = {r["kind"]: r for r in rows}
    assert set(by_kind) == {"clear_downs", "emails", "flags", "holds", "export_logs", "sign_ins", "calendar_feeds"}
    clear_downs = by_kind["clear_downs"]
    assert clear_downs["count"] == "8" and clear_downs["dry_run"] == "no" and clear_downs["held_back"] == "6"
    assert json.loads(clear_downs["details"])["ledger entries"] == 4
    assert clear_downs["cutoff"] == (NOW - dt.timedelta(days=90)).isoformat()


@pytest.mark.django_db
def test_the_foi_pack_carries_the_ledger_head(client, dpo, world):
    head = LedgerEntry.objects.order_by("-sequence").first()
    client.force_login(dpo)
    html = client.get(reverse("audit:foi_pack"), {"group": head.obligation.cycle.group_id}).content.decode()
    assert f'<p class="audit-hash mb-1" id="ledger-anchor-hash">{head.hash}</p>' in html
    assert "the chain held <strong>9</strong> entries" in html
    assert f"verify_ledger --expect {head.hash}" in html


@pytest.mark.django_db
def test_the_weekly_summary_carries_the_head_as_it_stood_when_made(dpo, world, time_machine):
    made_at = NOW - dt.timedelta(days=30)  # before this month's attestation: the head was #8
    email = SentEmail.objects.create(
        key="summary", kind=SentEmail.Kind.DPO_SUMMARY, user=dpo, to_address=dpo.email, created_at=made_at
    )
    message = emails.dpo_summary_email(email=email, to=dpo.email)
    eighth = LedgerEntry.objects.get(sequence=8).hash
    assert ledger.ledger_anchor(at=made_at) == ledger.Anchor(count=8, hash=eighth)
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert eighth in body and f"verify_ledger --expect {eighth}" in body
    assert "The ledger of attestations: 8 entries, head hash" in message.body
    # And the command accepts it later, after a disposal.
    retention.retention_run()
    assert ledger.ledger_verify(expect=eighth).ok
