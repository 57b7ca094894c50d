"""A hold in the browser (issue 20): the admin copies the message for the chat and records
posting it; a member acknowledges from the emailed link. Scanned by axe at both sizes."""

import pytest
from playwright.sync_api import expect

from attestations import hold_notices, links
from attestations.models import Hold, HoldNotice
from tests.attestations.browser import clock, close_the_week  # noqa: F401
from tests.conftest import VIEWPORTS
from tests.factories import dpo_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACK = "I will not clear this chat until I am told the hold has ended"


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_admin_copies_the_hold_message_and_a_member_acknowledges_it(
    live_server, page, login_page, assert_accessible, settings, size, group, member, admin_user
):
    dpo = dpo_user(username="dpo", first_name="Dana", last_name="Price")
    settings.SITE_URL = base = live_server.url
    close_the_week()
    hold = hold_notices.hold_place(group=group, by=dpo, reference="FOI-2026-0007", reason="FOI request", queue=False)
    page.set_viewport_size(VIEWPORTS[size])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)

    login_page(admin_user)
    page.goto(f"{base}{group.get_absolute_url()}")
    message = page.get_by_label("Message to paste into the WhatsApp group")
    expect(message).to_contain_text("Do not clear, delete, or leave this chat; do not turn on disappearing messages.")
    assert_accessible(page, "group page with the hold message")
    page.get_by_role("button", name="Copy message").click()  # hidden in the HTML, shown by copy.js
    expect(page.get_by_text("Copied. Paste it into the WhatsApp group.")).to_be_visible()
    assert "FOI-2026-0007" in page.evaluate("navigator.clipboard.readText()")
    page.get_by_role("button", name="I have posted it in the WhatsApp group").click()
    expect(page.get_by_role("status").first).to_contain_text("Recorded: the hold message was posted")
    expect(page.get_by_text("Posted in the chat: recorded")).to_be_visible()
    assert Hold.objects.get(pk=hold.pk).chat_posted_by == admin_user
    page.get_by_role("link", name="The hold's record: who has acknowledged").click()
    expect(page.get_by_role("heading", name="Hold FOI-2026-0007 on “Urgent Ops”")).to_be_visible()
    assert_accessible(page, "the hold's record")

    page.context.clear_cookies()
    login_page(member)
    expect(page.get_by_role("button", name=ACK)).to_be_visible()
    assert_accessible(page, "home with a hold to acknowledge")
    notice = HoldNotice.objects.get(hold=hold, user=member)
    page.goto(links.hold_notice_link_url(notice))
    expect(page.get_by_role("heading", name="Hold on Urgent Ops")).to_be_visible()
    assert_accessible(page, "the notice's link")
    page.get_by_role("button", name=ACK).click()
    expect(page.get_by_role("status").first).to_contain_text("You have acknowledged the hold FOI-2026-0007")
    expect(page.get_by_text("You acknowledged this hold on")).to_be_visible()
    assert_accessible(page, "home after acknowledging")
    notice.refresh_from_db()
    assert notice.acknowledged_at is not None and notice.channel == "email"
