"""A member signs in on a phone through the identity provider and lands on their clear-downs."""

import pytest
from playwright.sync_api import expect

from groups.models import ExternalIdentity
from tests.conftest import VIEWPORTS

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def through_the_browser(oidc, live_server, settings):
    # The redirect URI is built from SITE_URL: here, the live server's own address.
    settings.SITE_URL = live_server.url
    return oidc


def test_a_member_signs_in_through_the_provider_on_a_phone(
    through_the_browser, live_server, page, member, assert_accessible
):
    through_the_browser.person("morgan", email=member.email, email_verified=True)
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_server.url}/accounts/login/")
    button = page.get_by_role("link", name="Sign in with Test Provider")
    expect(button).to_be_visible()
    assert_accessible(page, "sign-in page with a provider")
    button.click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Provider username").fill("morgan")
    page.get_by_label("Provider password").fill("provider-password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    assert page.url == f"{live_server.url}/"
    assert_accessible(page, "the member's page after signing in through the provider")
    assert ExternalIdentity.objects.get(user=member).subject == "sub-morgan"


def test_someone_the_portal_does_not_know_sees_a_clear_page(through_the_browser, live_server, page, assert_accessible):
    through_the_browser.person("stranger", email="stranger@example.org", email_verified=True)
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Test Provider").click()
    page.get_by_label("Provider username").fill("stranger")
    page.get_by_label("Provider password").fill("provider-password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="You cannot use the portal with this account")).to_be_visible()
    assert_accessible(page, "the refusal page")
