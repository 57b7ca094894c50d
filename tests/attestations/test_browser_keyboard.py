"""Each clear-down journey done with the keyboard alone: Tab, Space and Enter, no mouse.

Every Tab stop on the way must show a focus ring, and each page's skip link is its first stop.
"""

import pytest
from playwright.sync_api import expect

from attestations.models import Hold, Obligation
from tests.attestations.browser import clock, close_the_week  # noqa: F401
from tests.conftest import VIEWPORTS, assert_skip_link_first, keyboard_activate, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_attests_with_the_keyboard_only(live_server, page, keyboard_login, group, member):
    close_the_week()
    keyboard_login(member)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    assert_skip_link_first(page, f"{live_server.url}/")
    # The date and the note are folded away; a keyboard opens them like any summary.
    keyboard_activate(page, page.get_by_text("Change the date cleared (today) or add where you saved it"))
    tab_to(page, page.get_by_label("Where you saved it (optional)"))
    page.keyboard.type("Case 2026/7")
    keyboard_activate(page, page.get_by_role("button", name="Confirm my clear-down"))
    expect(page.get_by_role("status")).to_contain_text("Urgent Ops, 6–13 Nov: recorded.")
    expect(page.get_by_text("Nothing to do")).to_be_visible()
    assert Obligation.objects.filter(user=member, status="attested", where_saved="Case 2026/7").exists()


def test_the_admin_prompts_and_excuses_with_the_keyboard_only(live_server, page, keyboard_login, group, admin_user):
    close_the_week()
    keyboard_login(admin_user)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    keyboard_activate(page, page.get_by_role("link", name="Register of groups"))
    expect(page.get_by_role("heading", name="Register of work groups")).to_be_visible()
    keyboard_activate(page, page.get_by_role("link", name="Urgent Ops"))
    expect(page.get_by_role("heading", name="Urgent Ops", level=1)).to_be_visible()
    assert_skip_link_first(page, page.url)
    keyboard_activate(page, page.get_by_role("button", name="Issue prompt"))
    expect(page.get_by_role("status").first).to_contain_text("Prompt recorded")
    expect(page.get_by_label("Message to paste into the WhatsApp group")).to_contain_text("Urgent Ops")
    keyboard_activate(page, page.get_by_role("link", name="Excuse Morgan Lee"))
    expect(page.get_by_role("heading", name="Excuse Morgan Lee")).to_be_visible()
    tab_to(page, page.get_by_label("Reason"))
    page.keyboard.type("Sick leave")
    keyboard_activate(page, page.get_by_role("button", name="Excuse"))
    expect(page.get_by_role("status").first).to_contain_text("Morgan Lee is excused")
    assert Obligation.objects.get(user__username="member").status == "excused"


def test_the_dpo_places_and_lifts_a_hold_with_the_keyboard_only(live_server, page, keyboard_login, group, dpo):
    close_the_week()
    keyboard_login(dpo)
    expect(page.get_by_role("heading", name="Clear-down dashboard")).to_be_visible()  # the DPO lands on their work
    assert_skip_link_first(page, f"{live_server.url}{group.get_absolute_url()}")
    keyboard_activate(page, page.get_by_role("link", name="Place a hold (FOI or legal)"))
    expect(page.get_by_role("heading", name="Place a hold on “Urgent Ops”")).to_be_visible()
    tab_to(page, page.get_by_label("Reference"))
    page.keyboard.type("LEGAL-7")
    tab_to(page, page.get_by_label("Reason"))
    page.keyboard.type("Employment tribunal")
    keyboard_activate(page, page.get_by_role("button", name="Place the hold"))
    expect(page.get_by_role("status").first).to_contain_text("is on hold (LEGAL-7)")
    keyboard_activate(page, page.get_by_role("link", name="Lift the hold"))
    tab_to(page, page.get_by_label("Reason"))
    page.keyboard.type("Tribunal closed")
    keyboard_activate(page, page.get_by_role("button", name="Lift the hold"))
    expect(page.get_by_role("status").first).to_contain_text("The hold LEGAL-7 on Urgent Ops is lifted")
    assert Hold.objects.get().lifted_at is not None


def test_on_a_phone_a_member_opens_the_menu_and_attests_with_the_keyboard_only(
    live_server, page, keyboard_login, group, member
):
    page.set_viewport_size(VIEWPORTS["phone"])
    close_the_week()
    keyboard_login(member)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    menu = page.get_by_role("button", name="Menu")
    register = page.get_by_role("link", name="Register of groups")
    expect(register).to_be_hidden()  # folded away behind the menu button on a phone
    keyboard_activate(page, menu)
    expect(menu).to_have_attribute("aria-expanded", "true")
    keyboard_activate(page, register)
    expect(page.get_by_role("heading", name="Register of work groups")).to_be_visible()
    keyboard_activate(page, page.get_by_role("button", name="Menu"))
    keyboard_activate(page, page.get_by_role("link", name="My clear-downs"))
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    keyboard_activate(page, page.get_by_role("button", name="Confirm my clear-down"))
    expect(page.get_by_role("status")).to_contain_text("Urgent Ops, 6–13 Nov: recorded.")
    assert Obligation.objects.get(user=member).status == "attested"
