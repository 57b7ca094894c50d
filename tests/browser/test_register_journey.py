"""The register in a real browser: the DPO approves a proposed group, with the mouse and with the keyboard."""

import re

import pytest
from playwright.sync_api import expect

from groups.models import ChatGroup
from tests.conftest import assert_skip_link_first, keyboard_activate, keyboard_select, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dpo_approves_a_proposed_group(live_server, login_page, dpo, proposal):
    page = login_page(dpo)
    expect(page.get_by_role("heading", name="Clear-down dashboard")).to_be_visible()  # the DPO lands on their work
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


def test_the_dpo_approves_a_proposed_group_with_the_keyboard_only(live_server, page, keyboard_login, dpo, proposal):
    keyboard_login(dpo)
    expect(page.get_by_role("heading", name="Clear-down dashboard")).to_be_visible()  # the DPO lands on their work
    keyboard_activate(page, page.get_by_role("link", name="Register of groups"))
    expect(page.get_by_role("heading", name="Register of work groups")).to_be_visible()
    assert_skip_link_first(page)
    keyboard_select(page, page.get_by_label("Status"), "Proposed")
    keyboard_activate(page, page.get_by_role("button", name="Search"))
    expect(page).to_have_url(re.compile(r"status=proposed"))
    keyboard_activate(page, page.get_by_role("link", name="New Idea"))
    expect(page.get_by_role("heading", name="New Idea")).to_be_visible()
    keyboard_activate(page, page.get_by_role("link", name="Approve"))
    tab_to(page, page.get_by_label("Reason"))
    page.keyboard.type("Meets the WhatsApp policy")
    keyboard_activate(page, page.get_by_role("button", name="Approve"))
    expect(page.get_by_role("status")).to_contain_text("is now approved")
    proposal.refresh_from_db()
    assert proposal.status == ChatGroup.Status.APPROVED


def test_the_browser_reads_and_writes_dates_the_british_way(live_server, page, login_page, member):
    login_page(member)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    assert page.evaluate("navigator.language") == "en-GB"
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Europe/London"
    # 1 June 2026 is in British Summer Time: shown day first, an hour ahead of UTC.
    shown = page.evaluate("new Date(Date.UTC(2026, 5, 1, 12, 0)).toLocaleString()")
    assert shown == "01/06/2026, 13:00:00"
