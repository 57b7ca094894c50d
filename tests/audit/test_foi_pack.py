"""The FOI evidence pack: one printable page with the group's figures and the rule's reasons."""

import datetime as dt

import pytest
from django.urls import reverse

from attestations.audit import history as audit


@pytest.mark.django_db
def test_it_counts_each_cycle_and_the_totals(record):
    pack = audit.foi_pack(group_id=record.group.pk, filters=audit.Filters())
    [line] = pack.cycles
    assert (line.owed, line.done, line.late, line.pending, line.held) == (2, 1, 1, 0, 1)
    assert line.expected == 1 and line.complete_percent == 100
    assert pack.totals["prompted"] == 0 and pack.totals["expected"] == 1 and pack.totals["held_cycles"] == 1
    assert [h.reference for h in pack.holds] == ["FOI-2026-0042"]
    assert [m.user.username for m in pack.memberships] == ["groupadmin", "member"]
    assert [c["admin"] for c in pack.admin_changes] == ["Grace Adeyemi", "Morgan Lee"]
    assert audit.foi_pack(group_id=record.group.pk, filters=audit.Filters(end=dt.date(2026, 11, 1))).cycles == []


@pytest.mark.django_db
def test_the_page_says_why_and_shows_the_figures(client, dpo, record, django_assert_max_num_queries):
    client.force_login(dpo)
    with django_assert_max_num_queries(15):  # 13, and the ledger's head and checkpoint (the anchor)
        html = client.get(reverse("audit:foi_pack"), {"group": record.group.pk}).content.decode()
    for text in [
        "Urgent short-term coordination",
        "Morgan Lee",  # admin now
        "Every seven days",
        "section 77 of the Freedom of Information Act 2000",
        "Data Protection Act 2018",
        "FOI-2026-0042",
        "1 week; prompts issued in 0; 1 under a hold",
        "Of 1 clear-down owed, 1 was confirmed (1 late)",
        "100%",
    ]:
        assert text in html, text


@pytest.mark.django_db
def test_without_a_group_it_shows_only_the_form(client, auditor, record):
    client.force_login(auditor)
    response = client.get(reverse("audit:foi_pack"))
    assert response.status_code == 200 and response.context["pack"] is None
