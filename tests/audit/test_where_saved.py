"""Where a member saved business information (issue 15): in the history and the exports."""

import csv
import io

import pytest
from django.urls import reverse

from attestations import ledger

pytestmark = pytest.mark.django_db


def test_the_clear_down_export_has_where_saved_as_its_last_column(client, auditor, record):
    client.force_login(auditor)
    response = client.get(reverse("audit:export", args=["obligations", "csv"]))
    header, *rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    # Last, so a reader of the older columns still finds every column where it was.
    assert header[-1] == "where_saved" and header[-3:-1] == ["ledger_sequence", "ledger_hash"]
    by_id = {row[0]: row[-1] for row in rows}
    assert by_id[str(record.attested.pk)] == "Case 2026/114" and by_id[str(record.overdue.pk)] == ""


def test_the_audit_history_shows_where_saved(client, auditor, record):
    client.force_login(auditor)
    html = client.get(reverse("audit:history"), {"kind": "obligation"}).content.decode()
    assert "Case 2026/114" in html


def test_the_ledger_payload_is_unchanged_and_still_verifies(record):
    # Where saved is evidence beside the attestation, not part of its sealed payload.
    assert "where_saved" not in ledger.PAYLOAD_FIELDS_BY_VERSION[max(ledger.PAYLOAD_FIELDS_BY_VERSION)]
    assert ledger.ledger_verify().ok
