"""The legal pages in a real browser: axe clean at phone and desktop sizes, signed out,
with the office's details set and with them missing, and reached from the sign-in page."""

import pytest
from playwright.sync_api import expect

from tests.conftest import VIEWPORTS, visit_and_scan
from tests.legal.test_pages import NOW, OFFICE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATHS = ["/privacy/", "/accessibility/", "/cookies/"]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_legal_pages_have_no_accessibility_violations(live_server, page, assert_accessible, settings, size):
    page.set_viewport_size(VIEWPORTS[size])
    for name in OFFICE:  # nothing set: every page shows its "not yet configured" notes
        setattr(settings, name, None if name.startswith("LEGAL_") else "")
    visit_and_scan(page, assert_accessible, live_server.url, PATHS)
    expect(page.locator(".not-configured-summary")).to_be_visible()

    for name, value in OFFICE.items():
        setattr(settings, name, value)
    settings.RETENTION = {**settings.RETENTION, "emails": 2 * 365}
    visit_and_scan(page, assert_accessible, live_server.url, PATHS)
    expect(page.locator(".not-configured-summary")).to_have_count(0)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_they_stay_accessible_signed_in_with_the_menu(
    live_server, page, login_page, assert_accessible, member, size, time_machine
):
    time_machine.move_to(NOW, tick=True)  # the home page the sign-in lands on shows this week
    page.set_viewport_size(VIEWPORTS[size])
    login_page(member)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    visit_and_scan(page, assert_accessible, live_server.url, PATHS)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_signed_out_visitor_reaches_each_page_from_the_sign_in_page(live_server, page, size, time_machine):
    time_machine.move_to(NOW, tick=True)
    page.set_viewport_size(VIEWPORTS[size])
    for link, heading in [
        ("Privacy notice", "Privacy notice"),
        ("Accessibility statement", "Accessibility statement for the clear-down portal"),
        ("Cookies", "Cookies"),
    ]:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_role("navigation", name="Legal").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("main").get_by_role("link", name="privacy notice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy notice")
