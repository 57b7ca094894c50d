"""The policy (R15) in a browser, on a phone and a desktop, scanned with axe (WCAG 2.2 AA):
the DPO publishes version 2.0 and sees who has acknowledged it by group; a member
acknowledges it in one tap from their home page."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from groups.models import PolicyAcknowledgement, PolicyVersion
from tests.conftest import VIEWPORTS
from tests.factories import ChatGroupFactory, MembershipFactory, policy_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_dpo_publishes_version_2_and_sees_who_has_acknowledged_it_by_group(
    live_server, page, login_page, assert_accessible, size, group, dpo, member
):
    MembershipFactory(group=ChatGroupFactory(name="Communications On-Call"), user=member)
    policy_version(number="1.0", by=dpo, effective_on=timezone.localdate() - timezone.timedelta(days=400))
    page.set_viewport_size(VIEWPORTS[size])
    login_page(dpo)
    page.goto(f"{live_server.url}/policy/")
    expect(page.get_by_role("heading", name="WhatsApp policy", exact=True)).to_be_visible()
    assert_accessible(page, "versions")

    page.get_by_role("link", name="Draft a new version").click()
    expect(page.get_by_role("heading", name="Draft a policy version")).to_be_visible()
    page.get_by_role("button", name="Save the draft").click()  # nothing filled in: the error summary
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page, "draft errors")
    page.get_by_label("Title").fill("OPCC WhatsApp Policy")
    page.get_by_label("Version number").fill("2.0")
    page.get_by_label("In effect from").fill(timezone.localdate().isoformat())
    page.get_by_label("What changed").fill("Groups only; one-to-one work messages are not allowed.")
    page.get_by_label("The policy's text").fill("WhatsApp is not an approved business tool.\n\nGroups only.")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Version 2.0 is saved as a draft.")).to_be_visible()
    assert_accessible(page, "draft")

    page.get_by_role("button", name="Publish version 2.0").click()
    expect(page.get_by_text("Version 2.0 is published.")).to_be_visible()
    assert_accessible(page, "published")
    version = PolicyVersion.objects.get(number="2.0")
    assert version.published_by == dpo
    PolicyAcknowledgement.objects.filter(version=version, user=group.admin).update(acknowledged_at=timezone.now())

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="Who has acknowledged the WhatsApp policy").click()
    expect(page.get_by_role("heading", name="Who has acknowledged policy version 2.0")).to_be_visible()
    # Urgent Ops: 2 members, 1 acknowledged, 1 outstanding, 0 overdue.
    expect(page.locator("table.policy-groups").get_by_role("row", name="Urgent Ops 2 1 1 0")).to_be_visible()
    assert_accessible(page, "dashboard by group")
    page.locator("table.policy-groups").get_by_role("link", name="Urgent Ops").click()
    expect(page.get_by_role("heading", name="Urgent Ops: policy version 2.0")).to_be_visible()
    expect(page.get_by_role("row", name="Morgan Lee")).to_contain_text("Not yet")
    assert_accessible(page, "dashboard group drill-down")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_member_acknowledges_the_current_version_in_one_tap_from_home(
    live_server, page, login_page, assert_accessible, size, group, dpo, member
):
    version = policy_version(number="2.0", by=dpo, changes="Groups only.")
    page.set_viewport_size(VIEWPORTS[size])
    login_page(member)
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Read the WhatsApp policy, version 2.0")).to_be_visible()
    assert_accessible(page, "home asking")
    page.get_by_role("link", name="Read version 2.0").click()
    expect(page.get_by_role("heading", name="WhatsApp policy, version 2.0")).to_be_visible()
    assert_accessible(page, "version")
    page.go_back()
    page.get_by_role("button", name="I have read and will follow version 2.0").click()
    expect(page.get_by_text("Thank you: you acknowledged version 2.0 of the WhatsApp policy.")).to_be_visible()
    expect(page.get_by_role("button", name="I have read and will follow version 2.0")).to_have_count(0)
    assert_accessible(page, "home done")
    assert PolicyAcknowledgement.objects.get(version=version, user=member).acknowledged_at is not None
