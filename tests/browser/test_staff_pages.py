"""The DPO's staff pages in a browser, on a phone and a desktop, scanned with axe (R14, WCAG 2.2 AA)."""

import pytest
from playwright.sync_api import expect

from groups.models import Membership, StaffProfile
from tests.conftest import VIEWPORTS
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = b"name,email,staff_number,active\nSam Jones,sam@example.org,101,yes\nMorgan Lee,member@example.org,100,no\n"


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_dpo_finds_a_leaver_closes_their_account_and_imports_a_list(
    live_server, page, login_page, assert_accessible, size, group, dpo, member, admin_user, tmp_path
):
    StaffProfile.objects.create(user=member, staff_number="100")
    for i in range(3):
        UserFactory(username=f"staff{i}", first_name="Alexandria-Catherine", last_name=f"Montgomery-Smythe{i}")
    page.set_viewport_size(VIEWPORTS[size])
    login_page(dpo)
    page.goto(f"{live_server.url}/staff/")
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    assert_accessible(page, "staff list")

    page.get_by_label("Search name, user name, email or staff number").fill("Morgan")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 person found.")).to_be_visible()
    page.get_by_role("link", name="Morgan Lee").click()
    expect(page.get_by_role("heading", name="Morgan Lee")).to_be_visible()
    assert_accessible(page, "person")

    page.get_by_role("link", name="Close the account (left the organisation)").click()
    page.get_by_role("button", name="Close the account").click()  # no reason: the error summary
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "close account errors")
    page.get_by_label("Reason").fill("Moved to another force on 27 November")
    page.get_by_role("button", name="Close the account").click()
    expect(page.get_by_text("Morgan Lee's account is closed; they left 1 group(s).")).to_be_visible()
    assert not Membership.objects.active().filter(user=member).exists()
    assert_accessible(page, "closed account")

    page.goto(f"{live_server.url}/staff/roles/")
    assert_accessible(page, "roles")
    page.goto(f"{live_server.url}/staff/import/")
    assert_accessible(page, "import")
    path = tmp_path / "staff.csv"
    path.write_bytes(CSV)
    page.get_by_label("Staff list (CSV file)").set_input_files(str(path))
    page.get_by_role("button", name="Preview the changes").click()
    expect(page.get_by_role("heading", name="Preview of “staff.csv”")).to_be_visible()
    assert_accessible(page, "import preview")
    page.get_by_role("button", name="Import these changes").click()
    expect(page.get_by_text("The staff list “staff.csv” was imported: 1 new")).to_be_visible()
