"""Every clear-down page scanned by axe-core (WCAG 2.2 AA) at desktop and phone sizes.

The member's home, the how-to, an emailed link's confirm page and its problem page, the
group page with the admin's prompt, the excuse page, both pages of a suspended group, the
hold pages, and the 403 and 404 pages.
"""

import pytest
from playwright.sync_api import expect

from attestations import links, services
from attestations.models import Hold
from groups.services import chatgroup_transition
from tests.attestations.browser import clock, close_the_week  # noqa: F401
from tests.conftest import VIEWPORTS, visit_and_scan
from tests.factories import dpo_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_clear_down_pages_have_no_accessibility_violations(
    live_server, page, login_page, assert_accessible, settings, size, group, member, admin_user
):
    dpo = dpo_user(username="dpo", first_name="Dana", last_name="Price")
    [cycle] = close_the_week()
    obligation = cycle.obligations.get(user=member)
    settings.SITE_URL = live_server.url
    services.cycle_prompt(cycle=cycle, by=admin_user)
    page.set_viewport_size(VIEWPORTS[size])
    base = live_server.url

    def as_user(user, paths):
        page.context.clear_cookies()
        login_page(user)
        # Each lands where their work is: the DPO on the dashboard, everyone else at home.
        landing = "Clear-down dashboard" if user == dpo else "My clear-downs"
        expect(page.get_by_role("heading", name=landing)).to_be_visible()
        visit_and_scan(page, assert_accessible, base, paths)

    link = links.obligation_link_url(obligation).removeprefix(base)
    as_user(
        member,
        [
            "/",
            "/clear-downs/how-to/",
            link,
            "/clear-downs/link/not-a-real-link/",
            group.get_absolute_url(),
        ],
    )
    errors = [(f"/clear-downs/groups/{group.pk}/hold/", "You cannot do that"), ("/nowhere/", "Page not found")]
    for path, heading in errors:  # 403 and 404
        visit_and_scan(page, assert_accessible, base, [path])
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    page.goto(f"{base}/")
    page.get_by_text("Change the date cleared (today) or add where you saved it").click()
    page.get_by_label("Date you cleared the chat").fill("2026-11-12")  # before the period ended
    page.get_by_role("button", name="Confirm my clear-down").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()  # the GOV.UK pattern: focus moves to the summary
    assert_accessible(page, "home with errors")
    summary.get_by_role("link").click()
    expect(page.get_by_label("Date you cleared the chat")).to_be_focused()

    as_user(admin_user, [group.get_absolute_url(), f"/clear-downs/obligations/{obligation.pk}/excuse/"])
    # Suspended (R13): the member's home and the group page say the clear-down is still owed, and why.
    chatgroup_transition(group=group, action="suspend", by=dpo, reason="Moved to Teams")
    as_user(member, [group.get_absolute_url(), "/"])
    note = page.locator(".stopped-note")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("clear it and do not post in it")
    expect(note).to_be_visible()
    expect(page.get_by_role("button", name="Confirm my clear-down")).to_be_visible()
    as_user(dpo, [f"/clear-downs/groups/{group.pk}/hold/"])
    page.get_by_label("Reference").fill("FOI-2026-0001")
    page.get_by_label("Reason").fill("FOI request")
    page.get_by_role("button", name="Place the hold").click()
    expect(page.get_by_role("alert")).to_contain_text("Do NOT clear this chat")
    assert_accessible(page, "group on hold")
    hold = Hold.objects.get()
    visit_and_scan(page, assert_accessible, base, [f"/clear-downs/holds/{hold.pk}/lift/"])
    as_user(member, ["/"])  # the member's home with the hold banner
    expect(page.get_by_role("alert")).to_contain_text("FOI-2026-0001")
