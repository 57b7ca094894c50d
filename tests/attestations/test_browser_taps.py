"""The actions a member needs, counted in a real browser on a phone (issue 15).

From the emailed link to a recorded clear-down: two taps (open the link, Confirm) and no
typing. From home with three clear-downs owed: one tap, on a button inside the first
screen. Both also with the keyboard alone, and axe finds nothing on the way at both sizes.
"""

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from playwright.sync_api import expect

from attestations import links
from attestations.models import Obligation
from tests.attestations.browser import DECLARATION, NO_SIDEWAYS_SCROLL, PHONE, clock, close_the_week  # noqa: F401
from tests.attestations.conftest import utc
from tests.conftest import VIEWPORTS, keyboard_activate
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Taps:
    """Counts what the member does: every tap (a navigation from outside, a click) and every
    key typed into a field. Only these helpers touch the page."""

    def __init__(self, page):
        self.page, self.taps, self.typed = page, 0, 0

    def open(self, url: str) -> None:  # tapping the link in the email app
        self.taps += 1
        self.page.goto(url)

    def tap(self, locator) -> None:
        self.taps += 1
        locator.click()


def in_first_screen(page, locator) -> bool:
    """Entirely inside the viewport as the page first shows it: nothing to scroll to."""
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return (
        page.evaluate("window.scrollY") == 0
        and box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= height
    )


def three_owed(member) -> None:
    for name in ("Communications On-Call", "Custody Handover"):
        MembershipFactory(group=ChatGroupFactory(name=name), user=member, joined_at=utc(2026, 10, 1))
    close_the_week()
    assert Obligation.objects.filter(user=member, status="pending").count() == 3


def test_from_the_emailed_link_two_taps_and_no_typing_on_a_phone(
    live_server, page, settings, assert_accessible, group, member
):
    [cycle] = close_the_week()
    obligation = cycle.obligations.get(user=member)
    settings.SITE_URL = live_server.url
    link = links.obligation_link_url(obligation)  # as the prompt and reminder emails build it
    page.set_viewport_size(PHONE)
    member_does = Taps(page)

    member_does.open(link)
    expect(page.get_by_role("heading", name="Clear-down of Urgent Ops")).to_be_visible()
    page.wait_for_load_state("load")
    confirm = page.get_by_role("button", name="Confirm my clear-down")
    expect(page.get_by_text(DECLARATION)).to_be_visible()
    assert in_first_screen(page, confirm) and page.evaluate(NO_SIDEWAYS_SCROLL)
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"  # opening it recorded nothing
    member_does.tap(confirm)

    expect(page.get_by_role("heading", name="Clear-down recorded")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Urgent Ops, 6–13 Nov: recorded")
    assert (member_does.taps, member_does.typed) == (2, 0)
    obligation.refresh_from_db()
    assert (obligation.status, obligation.channel) == ("attested", "email_anon")
    assert Session.objects.count() == 0 and not [c for c in page.context.cookies() if c["name"] == "sessionid"]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_from_the_emailed_link_with_the_keyboard_only(live_server, page, settings, group, member):
    [cycle] = close_the_week()
    obligation = cycle.obligations.get(user=member)
    settings.SITE_URL = live_server.url
    page.set_viewport_size(PHONE)
    page.goto(links.obligation_link_url(obligation))
    keyboard_activate(page, page.get_by_role("button", name="Confirm my clear-down"))
    expect(page.get_by_role("heading", name="Clear-down recorded")).to_be_visible()
    assert Obligation.objects.get(pk=obligation.pk).channel == "email_anon"


def test_from_home_with_three_owed_one_tap_inside_the_first_screen(live_server, page, login_page, group, member):
    three_owed(member)
    page.set_viewport_size(PHONE)
    login_page(member)
    member_does = Taps(page)

    confirm = page.get_by_role("button", name="Confirm all 3 clear-downs")
    expect(page.get_by_text(DECLARATION)).to_be_visible()
    assert in_first_screen(page, confirm) and page.evaluate(NO_SIDEWAYS_SCROLL)
    member_does.tap(confirm)

    status = page.get_by_role("status")
    expect(status).to_contain_text(
        "Communications On-Call, 6–13 Nov; Custody Handover, 6–13 Nov; Urgent Ops, 6–13 Nov: recorded."
    )
    expect(page.get_by_text("Nothing to do")).to_be_visible()
    assert (member_does.taps, member_does.typed) == (1, 0)
    assert set(Obligation.objects.filter(user=member).values_list("status", "channel")) == {("attested", "web")}


def test_from_home_one_group_on_its_own(live_server, page, login_page, group, member):
    three_owed(member)
    page.set_viewport_size(PHONE)
    login_page(member)
    page.get_by_role("button", name="Confirm only Custody Handover, 6–13 Nov").click()
    expect(page.get_by_role("status")).to_contain_text("Custody Handover, 6–13 Nov: recorded.")
    expect(page.get_by_role("button", name="Confirm all 2 clear-downs")).to_be_visible()
    assert Obligation.objects.get(user=member, cycle__group__name="Custody Handover").status == "attested"
    assert Obligation.objects.filter(user=member, status="pending").count() == 2


def test_from_home_with_three_owed_with_the_keyboard_only(live_server, page, keyboard_login, group, member):
    three_owed(member)
    page.set_viewport_size(PHONE)
    keyboard_login(member)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    keyboard_activate(page, page.get_by_role("button", name="Confirm all 3 clear-downs"))
    expect(page.get_by_role("status")).to_contain_text("Urgent Ops, 6–13 Nov: recorded.")
    assert not Obligation.objects.filter(user=member, status="pending").exists()


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_new_pages_have_no_accessibility_violations(
    live_server, page, login_page, assert_accessible, settings, size, group, member, admin_user
):
    three_owed(member)
    settings.SITE_URL = live_server.url
    obligation = Obligation.objects.get(user=member, cycle__group=group)
    page.set_viewport_size(VIEWPORTS[size])
    # Signed out: the link's confirm page, then its receipt.
    page.goto(links.obligation_link_url(obligation))
    expect(page.get_by_role("heading", name="Clear-down of Urgent Ops")).to_be_visible()
    assert_accessible(page, "link confirm, signed out")
    page.get_by_role("button", name="Confirm my clear-down").click()
    expect(page.get_by_role("heading", name="Clear-down recorded")).to_be_visible()
    assert_accessible(page, "link receipt, signed out")
    # Signed in: home with two owed and the date open, then the calendar pages.
    login_page(member)
    expect(page.get_by_role("button", name="Confirm all 2 clear-downs")).to_be_visible()
    page.get_by_text("Change the date cleared (today) or add where you saved it").click()
    assert_accessible(page, "home with two owed")
    page.get_by_role("link", name="Put your clear-down deadlines in your phone's calendar").click()
    page.get_by_role("button", name="Make my calendar address").click()
    assert page.get_by_label("Your calendar address").input_value().endswith(".ics")
    assert_accessible(page, "calendar")
    page.get_by_role("link", name="Reset your calendar address").click()
    assert_accessible(page, "calendar reset")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    # The admin adds two people at once from the search.
    page.context.clear_cookies()
    login_page(admin_user)
    for first in ("Pat", "Sam"):
        UserFactory(username=first.lower(), first_name=first, last_name="Jones")
    page.goto(f"{live_server.url}{reverse('groups:member_add', args=[group.pk])}?q=jones")
    page.get_by_label("Pat Jones").check()
    page.get_by_label("Sam Jones").check()
    assert_accessible(page, "add members with results")
    page.get_by_label("Or paste email addresses or usernames").fill("nobody@example.org")
    page.get_by_role("button", name="Add to Urgent Ops").click()
    expect(page.get_by_role("status")).to_contain_text("Added to Urgent Ops (2): Pat Jones and Sam Jones.")
    expect(page.get_by_role("status")).to_contain_text("Not found: nobody@example.org.")
    assert_accessible(page, "group after adding two")


def test_three_overdue_with_long_names_still_fit_the_first_screen(live_server, page, login_page, time_machine, member):
    for name in ("Commissioner's Office Urgent", "Communications On-Call Rota", "Custody Handover Sergeants"):
        MembershipFactory(group=ChatGroupFactory(name=name), user=member, joined_at=utc(2026, 10, 1))
    close_the_week()
    time_machine.move_to(utc(2026, 11, 16, 9), tick=True)  # the day after the deadline: all three overdue
    page.set_viewport_size(PHONE)
    login_page(member)
    expect(page.get_by_text("Overdue", exact=True)).to_have_count(3)
    confirm = page.get_by_role("button", name="Confirm all 3 clear-downs")
    assert in_first_screen(page, confirm), confirm.bounding_box()
