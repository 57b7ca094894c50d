"""A group's periodic review in a real browser (R16): the admin answers on one page, the DPO
sends it back, the admin answers again, the DPO signs it off; an overdue review is put to
the DPO as "review overdue: suspend?". Each page scanned with axe at both sizes."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from groups import services as group_services
from groups.models import GroupReview, Membership
from tests.conftest import VIEWPORTS
from tests.factories import ChatGroupFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_review_runs_end_to_end(live_server, page, login_page, group, admin_user, member, dpo):
    review = group_services.review_schedule(group=group, after=timezone.now() - dt.timedelta(days=200), by=None)
    login_page(admin_user)
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    expect(page.get_by_role("region", name="Periodic review")).to_contain_text("Overdue")
    page.get_by_role("link", name="Answer the review").click()
    expect(page.get_by_role("heading", name="Review of “Urgent Ops”")).to_be_visible()
    page.get_by_role("button", name="Submit the review").click()  # nothing confirmed: refused
    expect(page.locator("#error-summary")).to_contain_text("OFFICIAL information only")
    page.get_by_label("The group's business purpose, as written above, still stands.").check()
    page.get_by_label(re.compile("used for OFFICIAL information only")).check()
    page.get_by_label(re.compile("WhatsApp settings are as agreed")).check()
    page.get_by_role("group", name="Morgan Lee").get_by_label("Remove").check()
    page.get_by_role("button", name="Submit the review").click()
    expect(page.get_by_role("status")).to_contain_text("is with the DPO to sign off. 1 member removed.")
    assert Membership.objects.get(group=group, user=member).left_at is not None

    page.context.clear_cookies()  # sign out
    login_page(dpo)
    page.get_by_role("link", name="Reviews").click()
    page.get_by_role("region", name=re.compile("Waiting for sign-off")).get_by_role("link", name="Urgent Ops").click()
    expect(page.get_by_role("cell", name="Removed")).to_be_visible()
    page.get_by_role("button", name="Send it back to the admin").click()  # no reason: refused
    expect(page.locator("#error-summary")).to_be_visible()
    page.get_by_label("Why are you sending it back?").fill("Please reword the purpose: the team has merged.")
    page.get_by_role("button", name="Send it back to the admin").click()
    expect(page.get_by_role("status")).to_contain_text("is sent back")

    page.context.clear_cookies()
    login_page(admin_user)
    page.goto(f"{live_server.url}/clear-downs/groups/{group.pk}/review/")
    expect(page.get_by_role("region", name="Sent back by the DPO")).to_contain_text("the team has merged")
    page.get_by_role("textbox", name="Business purpose").fill("Urgent coordination of the merged operations team.")
    page.get_by_label("The group's business purpose, as written above, still stands.").check()
    page.get_by_label(re.compile("used for OFFICIAL information only")).check()
    page.get_by_label(re.compile("WhatsApp settings are as agreed")).check()
    page.get_by_role("button", name="Submit the review").click()
    expect(page.get_by_role("status")).to_contain_text("is with the DPO")

    page.context.clear_cookies()  # sign out
    login_page(dpo)
    page.goto(f"{live_server.url}/clear-downs/reviews/{review.pk}/")
    expect(page.get_by_text("Reworded.")).to_be_visible()
    page.get_by_role("button", name="Sign off the review").click()
    expect(page.get_by_role("status")).to_contain_text("is signed off")
    review.refresh_from_db()
    group.refresh_from_db()
    assert review.status == "signed_off" and review.submission == 2
    assert group.purpose == "Urgent coordination of the merged operations team."
    assert GroupReview.objects.filter(group=group, status="due").count() == 1


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_review_pages_have_no_accessibility_violations(
    live_server, page, login_page, assert_accessible, size, group, admin_user, dpo
):
    page.set_viewport_size(VIEWPORTS[size])
    long_ago = timezone.now() - dt.timedelta(days=400)
    group_services.review_schedule(group=group, after=long_ago, by=None)
    stale = ChatGroupFactory(name="Old Project")
    group_services.review_schedule(group=stale, after=long_ago, by=None)
    login_page(admin_user)
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    assert_accessible(page, "group page with its review")
    page.goto(f"{live_server.url}/clear-downs/groups/{group.pk}/review/")
    assert_accessible(page, "review answers")
    page.get_by_role("button", name="Submit the review").click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "review answers with errors")
    page.get_by_label("The group's business purpose, as written above, still stands.").check()
    page.get_by_label(re.compile("used for OFFICIAL information only")).check()
    page.get_by_label(re.compile("WhatsApp settings are as agreed")).check()
    page.get_by_role("button", name="Submit the review").click()
    expect(page.get_by_role("status")).to_be_visible()

    page.context.clear_cookies()  # sign out
    login_page(dpo)
    page.goto(f"{live_server.url}/clear-downs/reviews/")
    suspend = page.get_by_role("region", name=re.compile("Review overdue: suspend"))
    expect(suspend).to_contain_text("Old Project")
    expect(suspend.get_by_role("link", name="Suspend Old Project")).to_have_attribute(
        "href", f"/groups/{stale.pk}/status/suspend/"
    )
    assert_accessible(page, "reviews board")
    review = GroupReview.objects.get(group=group)
    page.goto(f"{live_server.url}/clear-downs/reviews/{review.pk}/")
    assert_accessible(page, "review decision")
    page.get_by_role("button", name="Send it back to the admin").click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "review decision with errors")
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    assert_accessible(page, "group page, DPO")
