"""Register pages scanned with axe-core at desktop and phone sizes (WCAG 2.2 AA)."""

import pytest
from playwright.sync_api import expect

from groups.models import Membership
from tests.conftest import VIEWPORTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_register_pages_have_no_accessibility_violations(
    live_server, page, login_page, assert_accessible, size, group, dpo, member
):
    page.set_viewport_size(VIEWPORTS[size])
    page.goto(f"{live_server.url}/accounts/login/")
    assert_accessible(page, "login")
    page.get_by_role("button", name="Sign in").click()  # empty form: the error summary
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "login errors")
    login_page(dpo)
    membership = Membership.objects.get(group=group, user=member)
    for path in [
        "/groups/",
        "/groups/propose/",
        f"/groups/{group.pk}/",
        f"/groups/{group.pk}/edit/",
        f"/groups/{group.pk}/status/suspend/",
        f"/groups/{group.pk}/members/add/?q=a",
        f"/groups/{group.pk}/members/{membership.pk}/remove/",
        f"/groups/{group.pk}/roles/",
        f"/groups/{group.pk}/history/",
        "/accounts/password_change/",
    ]:
        page.goto(f"{live_server.url}{path}")
        assert_accessible(page, path)
    page.goto(f"{live_server.url}/groups/propose/")
    page.get_by_role("button", name="Propose group").click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "propose errors")
