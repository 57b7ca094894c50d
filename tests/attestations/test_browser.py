"""A member on a phone confirms two groups' clear-downs in one submit (R6)."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from attestations import services
from attestations.models import Obligation
from tests.attestations.conftest import PERIOD_END, restore_roles, utc
from tests.factories import ChatGroupFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(autouse=True, scope="module")
def _roles_back_after_the_flush(django_db_blocker):
    # Module scope: torn down after the last test's flush, so it runs on the emptied tables.
    yield
    with django_db_blocker.unblock():
        restore_roles()


@pytest.fixture(autouse=True)
def clock(time_machine):
    # The browser and the live server need a running clock: start it just after the period ended.
    time_machine.move_to(PERIOD_END + dt.timedelta(minutes=5), tick=True)
    return time_machine


def test_a_member_on_a_phone_attests_two_groups_at_once(live_server, page, login_page, group, member):
    other = ChatGroupFactory(name="Communications On-Call")
    MembershipFactory(group=other, user=member, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=1))

    page.set_viewport_size(PHONE)
    login_page(member)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    expect(page.get_by_role("link", name=re.compile("How to clear a WhatsApp chat"))).to_be_visible()

    page.get_by_label("I have cleared all messages in Urgent Ops for Fri 6 Nov to Fri 13 Nov 2026").check()
    page.get_by_label(
        "I have cleared all messages in Communications On-Call for Fri 6 Nov to Fri 13 Nov 2026"
    ).check()
    expect(page.get_by_label("Date you cleared the chat")).to_have_value("2026-11-13")
    page.get_by_label(re.compile("^Before clearing, I saved")).check()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.get_by_role("button", name="Confirm my clear-downs").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Your clear-down of Communications On-Call and Urgent Ops is recorded"
    )
    expect(page.get_by_text("Nothing to do")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert set(Obligation.objects.filter(user=member).values_list("status", "channel")) == {("attested", "web")}


def test_the_admin_prompts_and_copies_the_message_for_the_group(live_server, page, login_page, group, admin_user):
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=1))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.set_viewport_size(PHONE)
    login_page(admin_user)
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    page.get_by_role("button", name="Issue prompt").click()
    expect(page.get_by_role("status").first).to_contain_text("Prompt recorded")
    message = page.get_by_label("Message to paste into the WhatsApp group")
    expect(message).to_contain_text("Weekly clear-down of “Urgent Ops”")
    page.get_by_role("button", name="Copy message").click()  # hidden in the HTML, shown by copy.js
    expect(page.get_by_text("Copied. Paste it into the WhatsApp group.")).to_be_visible()
    assert "Urgent Ops" in page.evaluate("navigator.clipboard.readText()")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
