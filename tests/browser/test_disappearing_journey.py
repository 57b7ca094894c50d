"""Disappearing messages in a real browser (R17): the DPO approves the timer, the member of
such a group sees the shorter declaration, a hold asks the admin to turn the timer off and
the DPO sees the open flag until the admin confirms. Pages scanned with axe at both sizes."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attestations import services
from attestations.models import Flag, Hold
from groups.models import ChatGroup
from tests.conftest import VIEWPORTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_as(page, login_page, person):
    page.context.clear_cookies()  # sign out whoever was signed in
    return login_page(person)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_timer_group_runs_from_approval_to_a_hold(
    live_server, page, login_page, assert_accessible, size, group, admin_user, member, dpo
):
    page.set_viewport_size(VIEWPORTS[size])
    sign_in_as(page, login_page, dpo)
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    timer = page.get_by_role("region", name="Disappearing messages")
    timer.get_by_label("How the chat is cleared").select_option(ChatGroup.ClearMode.DISAPPEARING)
    timer.get_by_role("button", name="Save the mode").click()
    expect(page.get_by_role("status")).to_contain_text("Disappearing messages: 7 days")
    assert_accessible(page, "group page, DPO, timer group")

    # A week closes: the member of the timer group sees the shorter declaration.
    services.cycle_close_due(now=timezone.now() + dt.timedelta(days=8))
    sign_in_as(page, login_page, member)
    page.goto(f"{live_server.url}/")
    expect(page.locator("#declaration")).to_contain_text("starred messages")
    expect(page.locator("#declaration")).not_to_contain_text("cleared all")
    expect(page.locator(".timer-note").first).to_be_visible()
    assert_accessible(page, "home, timer group")
    page.goto(f"{live_server.url}/clear-downs/how-to/")
    expect(page.get_by_role("heading", name="Check the timer on an iPhone")).to_be_visible()
    expect(page.get_by_role("heading", name="Check the timer on an Android phone")).to_be_visible()
    assert_accessible(page, "how-to")

    # The admin confirms the weekly timer.
    sign_in_as(page, login_page, admin_user)
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    page.get_by_role("button", name="The timer is on (7 days) and only admins can change settings").click()
    expect(page.get_by_role("status")).to_contain_text("confirmed on")

    # The DPO places a hold: the banner and the admin are told to turn the timer off.
    sign_in_as(page, login_page, dpo)
    page.goto(f"{live_server.url}/clear-downs/groups/{group.pk}/hold/")
    page.get_by_label("Reference").fill("FOI-2026-041")
    page.get_by_label("Reason").fill("Request received for the group's messages")
    page.get_by_role("button", name="Place the hold").click()
    expect(page.locator(".hold-timer").first).to_contain_text("must turn the timer OFF at once")
    page.goto(f"{live_server.url}/dashboard/")
    duties = page.get_by_role("region", name="Open flags: group reviews and hold timers (1)")
    expect(duties).to_contain_text("disappearing messages not confirmed off")
    assert_accessible(page, "dashboard with a hold-timer flag")
    page.goto(f"{live_server.url}/dashboard/flags/?which=open_duties")
    expect(page.get_by_role("table")).to_contain_text("Hold: disappearing messages not turned off")

    sign_in_as(page, login_page, admin_user)
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    expect(page.get_by_role("region", name="Turn the timer off")).to_be_visible()
    assert_accessible(page, "group page, admin, hold on a timer group")
    page.get_by_role("button", name="I have turned the timer off").click()
    expect(page.locator("div.messages")).to_contain_text("recorded as off")
    expect(page.locator(".hold-timer").first).to_contain_text("turned the timer OFF")
    hold = Hold.objects.get()
    assert hold.timer_off_by == admin_user
    assert Flag.objects.get(kind=Flag.Kind.TIMER_NOT_OFF).resolved_at is not None
