"""The register in a real browser: the DPO approves a proposed group."""

import re

import pytest
from playwright.sync_api import expect

from groups.models import ChatGroup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dpo_approves_a_proposed_group(live_server, login_page, dpo, proposal):
    page = login_page(dpo)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    page.get_by_role("link", name="Register of groups").click()
    page.get_by_label("Status").select_option("proposed")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="New Idea").click()
    expect(page.get_by_text("Proposed", exact=True).first).to_be_visible()
    page.get_by_role("link", name="Approve").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert")).to_contain_text("Give a reason")  # empty reason refused
    page.get_by_label("Reason").fill("Meets the WhatsApp policy")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("is now approved")
    expect(page).to_have_url(re.compile(rf"/groups/{proposal.pk}/$"))
    proposal.refresh_from_db()
    assert proposal.status == ChatGroup.Status.APPROVED and proposal.approved_by == dpo
