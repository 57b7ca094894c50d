"""An auditor in Chromium: filters the history (also by keyboard alone), downloads a CSV, prints the pack,
checks the ledger; every audit page scanned at both sizes."""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from attestations import retention
from tests import factories
from tests.audit.conftest import make_record
from tests.conftest import VIEWPORTS, assert_skip_link_first, keyboard_activate, keyboard_select, tab_to, visit_and_scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def the_record():
    """The auditor, and a group's record made at the real time (the browser needs a running clock)."""
    dpo = factories.dpo_user(username="dpo", first_name="Dana", last_name="Price")
    auditor = factories.auditor_user(username="auditor", first_name="Amir", last_name="Khan")
    admin = factories.UserFactory(username="groupadmin", first_name="Grace", last_name="Adeyemi")
    member = factories.UserFactory(username="member", first_name="Morgan", last_name="Lee")
    group = factories.ChatGroupFactory(name="Urgent Ops", admin=admin)
    factories.MembershipFactory(group=group, user=member)
    return auditor, make_record(group=group, member=member, admin_user=admin, dpo=dpo)


def test_an_auditor_filters_history_downloads_a_csv_and_verifies_the_ledger(login_page, live_server, assert_accessible):
    auditor, record = the_record()

    page = login_page(auditor)
    page.get_by_role("link", name="Audit").click()
    page.wait_for_url("**/audit/")
    assert_accessible(page, "history")
    page.get_by_label("Kind of record").select_option("group")
    page.get_by_label("Changed by").fill("dpo")
    page.get_by_role("button", name="Show changes").click()
    expect(page.get_by_text("Admin handed over")).to_be_visible()
    expect(page.get_by_role("row", name="Admin Grace Adeyemi Morgan Lee")).to_be_visible()
    assert_accessible(page, "history filtered")

    page.get_by_role("link", name="Exports", exact=True).click()
    page.get_by_label("Group", exact=True).select_option(label="Urgent Ops")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply to the links below").click()
    expect(page).to_have_url(re.compile(r"group="))
    assert_accessible(page, "exports")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV of clear-downs and attestations").click()
    path = info.value.path()
    with open(path, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    by_user = {r["username"]: r for r in rows}
    assert set(by_user) == {"groupadmin", "member"}
    assert by_user["member"]["status"] in ("attested", "late") and by_user["member"]["ledger_sequence"] == "1"
    assert by_user["groupadmin"]["status"] == "held"

    page.get_by_role("link", name="Export log", exact=True).click()
    expect(page.get_by_role("cell", name="obligations (CSV)").first).to_be_visible()
    assert_accessible(page, "export log")

    page.get_by_role("link", name="FOI evidence pack", exact=True).click()
    page.get_by_label("Group", exact=True).select_option(label="Urgent Ops")
    page.get_by_role("button", name="Make the pack").click()
    expect(page.get_by_role("heading", name="Why we do not hold the messages of “Urgent Ops”")).to_be_visible()
    expect(page.get_by_text(record.hold.reference).first).to_be_visible()
    assert_accessible(page, "FOI pack")

    page.get_by_role("link", name="Ledger", exact=True).click()
    page.get_by_role("button", name="Check the whole chain now").click()
    expect(page.get_by_role("heading", name="The ledger is intact")).to_be_visible()
    assert_accessible(page, "ledger")

    retention.retention_run(dry_run=True)
    page.get_by_role("link", name="Retention", exact=True).click()
    expect(page.get_by_role("heading", name="Retention schedule")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Clear-downs and attestations 3 years"))).to_be_visible()
    expect(page.get_by_text("Dry run: nothing removed").first).to_be_visible()
    assert_accessible(page, "retention")


def test_an_auditor_filters_the_history_with_the_keyboard_only(live_server, page, keyboard_login):
    auditor, record = the_record()
    keyboard_login(auditor)
    expect(page.get_by_role("heading", name="Change history")).to_be_visible()  # an auditor lands on their work
    keyboard_activate(page, page.get_by_role("link", name="Audit"))
    page.wait_for_url("**/audit/")
    assert_skip_link_first(page)
    keyboard_select(page, page.get_by_label("Kind of record"), "Group")
    tab_to(page, page.get_by_label("Changed by"))
    page.keyboard.type("dpo")
    keyboard_activate(page, page.get_by_role("button", name="Show changes"))
    expect(page).to_have_url(re.compile(r"kind=group"))
    expect(page.get_by_text("Admin handed over")).to_be_visible()
    expect(page.get_by_role("row", name="Admin Grace Adeyemi Morgan Lee")).to_be_visible()


def test_the_audit_pages_have_no_accessibility_violations_on_a_phone(live_server, page, login_page, assert_accessible):
    # The journey above scans them at the desktop size.
    auditor, record = the_record()
    page.set_viewport_size(VIEWPORTS["phone"])
    login_page(auditor)
    expect(page.get_by_role("heading", name="Change history")).to_be_visible()  # an auditor lands on their work
    visit_and_scan(page, assert_accessible, live_server.url, [
        "/audit/",
        "/audit/?kind=group&by=dpo",
        "/audit/exports/",
        "/audit/exports/log/",
        f"/audit/foi/?group={record.group.pk}",
        "/audit/ledger/",
        "/audit/retention/",
    ])  # fmt: skip
    # An export, then its entry in the log.
    page.goto(f"{live_server.url}/audit/exports/")
    with page.expect_download():
        page.get_by_role("link", name="CSV of register of groups").click()
    page.goto(f"{live_server.url}/audit/exports/log/")
    expect(page.get_by_role("cell", name="register (CSV)").first).to_be_visible()
    page.get_by_role("row").filter(has_text="register (CSV)").first.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/audit/exports/log/\d+/$"))
    assert_accessible(page, "export log entry on a phone")
