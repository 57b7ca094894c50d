"""The menu without JavaScript (STYLE.md: every page works without it): on a phone every link
is there without unfolding anything, and signing out needs no dropdown."""

import pytest
from playwright.sync_api import expect

from tests.conftest import VIEWPORTS
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_js_page(browser, browser_context_args):
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    yield context.new_page()
    context.close()


def sign_in(page, base_url, user):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()


@pytest.mark.parametrize("size", VIEWPORTS)
def test_without_javascript_the_menu_is_open_and_sign_out_is_a_plain_button(
    live_server, no_js_page, size, admin_user, group
):
    page = no_js_page
    page.set_viewport_size(VIEWPORTS[size])
    sign_in(page, live_server.url, admin_user)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()  # it could not unfold anything
    for link in ("My clear-downs", "Register of groups", "Dashboard", "Change password"):
        expect(page.get_by_role("link", name=link, exact=True)).to_be_visible()
    page.get_by_role("link", name="Register of groups").click()
    expect(page.get_by_role("heading", name="Register of work groups")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[size]["width"], f"{width}px wide without JavaScript"
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    sign_out.click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{live_server.url}/groups/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_with_javascript_sign_out_stays_in_the_account_menu(live_server, page, login_page, member):
    login_page(member)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    # One Sign out button, folded in the account menu: the one for browsers without
    # JavaScript is not drawn.
    expect(page.get_by_role("button", name="Sign out", include_hidden=True)).to_have_count(1)
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    page.get_by_role("button", name="Morgan Lee").click()
    expect(sign_out).to_be_visible()
    sign_out.click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
