"""Every dashboard page scanned by axe-core (WCAG 2.2 AA) at desktop and phone sizes.

As the DPO (every group), a group admin (their groups) and a member (refused, 403).
"""

import pytest
from playwright.sync_api import expect

from attestations.models import SentEmail
from tests.conftest import VIEWPORTS, visit_and_scan
from tests.dashboard.conftest import NOW
from tests.dashboard.test_browser import clock  # noqa: F401 - the running clock of the browser tests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_dashboard_pages_have_no_accessibility_violations(
    live_server, page, login_page, assert_accessible, size, office, dpo, admin_user, member
):
    SentEmail.objects.create(
        key="browser-test-digest", kind=SentEmail.Kind.ADMIN_DIGEST, user=admin_user, subject="1 overdue clear-down",
        group=office.a, cycle=office.a1, created_at=NOW, status=SentEmail.Status.FAILED, attempts=4,
        error="SMTP 451: try again later",
    )  # fmt: skip
    SentEmail.objects.create(
        key="browser-test-summary", kind=SentEmail.Kind.DPO_SUMMARY, user=dpo, to_address=dpo.email,
        subject="Weekly clear-down summary", created_at=NOW, status=SentEmail.Status.SENT, attempts=1,
        attempted_at=NOW, sent_at=NOW,
    )  # fmt: skip
    type(member).objects.filter(pk=member.pk).update(email="")  # the notice of who cannot be emailed
    page.set_viewport_size(VIEWPORTS[size])
    login_page(dpo)
    expect(page.get_by_role("heading", name="Clear-down dashboard")).to_be_visible()  # the DPO lands on their work
    visit_and_scan(page, assert_accessible, live_server.url, [
        "/dashboard/",
        "/dashboard/?status=below&sort=name&dir=desc",
        f"/dashboard/groups/{office.a.pk}/",  # flags, an excused member and an email that failed
        f"/dashboard/groups/{office.c.pk}/",  # on hold
        "/dashboard/people/",
        f"/dashboard/people/{office.pat.pk}/",
        "/dashboard/clear-downs/?bucket=overdue",
        "/dashboard/flags/",
        "/dashboard/flags/?which=all",
        "/dashboard/?from=2026-12-01&to=2026-11-01",  # a range the wrong way round: the error
        "/dashboard/emails/",  # a failed digest and a summary with no group
        f"/dashboard/emails/?status=failed&group={office.a.pk}",
        "/dashboard/emails/?status=banana&page=7",  # a filter and a page that do not exist: the errors
    ])  # fmt: skip

    page.context.clear_cookies()
    login_page(admin_user)  # a group admin sees the groups they run
    visit_and_scan(page, assert_accessible, live_server.url, ["/dashboard/", f"/dashboard/groups/{office.a.pk}/"])
    page.context.clear_cookies()
    login_page(member)
    visit_and_scan(page, assert_accessible, live_server.url, ["/dashboard/"])  # 403
    expect(page.get_by_role("heading", name="You cannot do that")).to_be_visible()
