"""The DPO in Chromium answers an FOI request (what may still exist, the hold, the record) and a
subject access request; every page scanned by axe at desktop and phone sizes."""

import csv
import datetime as dt
import io
import zipfile

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from attestations.models import Hold, Obligation
from attestations.periods import LONDON
from tests import factories
from tests.conftest import VIEWPORTS, visit_and_scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def the_request():
    """A group whose members stand differently for the last fortnight, at the real time."""
    now = timezone.now()
    dpo = factories.dpo_user(username="dpo", first_name="Dana", last_name="Price")
    admin = factories.UserFactory(username="groupadmin", first_name="Grace", last_name="Adeyemi", email="g@x.org")
    group = factories.ChatGroupFactory(name="Urgent Ops", admin=admin)
    cycle = factories.CycleFactory(group=group, period_end=now - dt.timedelta(days=3))
    people = {}
    for key, first in [("cleared", "Cleo"), ("pending", "Penny"), ("excused", "Eve"), ("left", "Leo")]:
        person = factories.UserFactory(username=key, first_name=first, last_name="Test")
        factories.MembershipFactory(
            group=group, user=person, joined_at=now - dt.timedelta(days=40),
            left_at=now - dt.timedelta(days=1) if key == "left" else None,
        )  # fmt: skip
        people[key] = person
    done = cycle.period_end + dt.timedelta(hours=1)
    factories.obligation_in_state(cycle=cycle, user=people["cleared"], state="on_time", attested_at=done)
    factories.obligation_in_state(cycle=cycle, user=people["pending"], state="pending")
    factories.obligation_in_state(cycle=cycle, user=people["excused"], state="excused")
    factories.obligation_in_state(cycle=cycle, user=people["left"], state="pending")
    today = now.astimezone(LONDON).date()
    start, end = today - dt.timedelta(days=12), (cycle.period_end - dt.timedelta(days=1)).astimezone(LONDON).date()
    return dpo, group, start, end


def test_the_dpo_answers_an_foi_request_and_places_the_hold(login_page, live_server, assert_accessible, page):
    dpo, group, start, end = the_request()
    login_page(dpo)
    page.goto(f"{live_server.url}/audit/foi/")
    page.get_by_label("Group", exact=True).select_option(label="Urgent Ops")
    page.get_by_label("From").fill(start.isoformat())
    page.get_by_label("To", exact=True).fill(end.isoformat())
    page.get_by_role("button", name="Make the pack").click()
    expect(page.get_by_role("heading", name="What may still exist of these dates")).to_be_visible()
    table = page.get_by_role("table", name="Who may still hold messages")
    expect(table.get_by_role("row", name="Penny Test Not yet cleared: the hold must reach them now")).to_be_visible()
    expect(table.get_by_role("row", name="Eve Test Excused, not cleared since")).to_be_visible()
    expect(table.get_by_role("row", name="Leo Test Left, not cleared: contact them directly")).to_be_visible()
    expect(table.get_by_role("row", name="Cleo Test Cleared: nothing of these dates left")).to_be_visible()
    assert_accessible(page, "FOI pack with what may still exist")
    page.screenshot(path="/tmp/foi-sar-exist-desktop.png", full_page=True)

    # A hold without a reference is refused, with the standard error summary; then placed.
    page.locator("#id_reference").fill("")
    page.get_by_role("button", name="Place the hold").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert_accessible(page, "hold refused")
    assert not Hold.objects.exists()
    page.locator("#id_reference").fill("FOI-2026-0101")
    page.get_by_role("button", name="Place the hold").click()
    expect(page.get_by_text("Urgent Ops is on hold (FOI-2026-0101)")).to_be_visible()
    expect(page.get_by_text("A hold already covers this group: FOI-2026-0101")).to_be_visible()
    assert Hold.objects.get().reference == "FOI-2026-0101"
    assert Obligation.objects.filter(status=Obligation.Status.HELD).count() == 2
    assert_accessible(page, "FOI pack after the hold")

    # The record of the request: CSV, then the printable page.
    page.get_by_label("Request reference").fill("FOI-2026-0101")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    with open(info.value.path(), encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert {r["username"]: r["standing"] for r in rows}["pending"].startswith("Not yet cleared")
    assert {r["request_reference"] for r in rows} == {"FOI-2026-0101"}
    page.get_by_role("button", name="Printable record").click()
    expect(page.get_by_role("heading", level=1, name="What may still exist of “Urgent Ops”")).to_be_visible()
    expect(page.get_by_text("Dana Price").first).to_be_visible()
    assert_accessible(page, "printable record")
    page.screenshot(path="/tmp/foi-sar-record-desktop.png", full_page=True)

    # On a phone.
    page.set_viewport_size(VIEWPORTS["phone"])
    query = f"group={group.pk}&from={start}&to={end}"
    visit_and_scan(page, assert_accessible, live_server.url, [
        f"/audit/foi/?{query}",
        f"/audit/foi/what-may-exist/?{query}&reference=FOI-1&received={end}&received_by=Dana",
    ])  # fmt: skip
    page.goto(f"{live_server.url}/audit/foi/?{query}")
    page.screenshot(path="/tmp/foi-sar-exist-phone.png", full_page=True)


def test_the_dpo_finds_a_person_and_downloads_their_file(login_page, live_server, assert_accessible, page):
    dpo, group, start, end = the_request()
    login_page(dpo)
    page.goto(f"{live_server.url}/audit/")
    page.get_by_role("link", name="Subject access").click()
    expect(page.get_by_role("heading", level=1, name="Subject access")).to_be_visible()
    assert_accessible(page, "subject access")
    page.get_by_label("Name, username or email").fill("grace")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("listitem").filter(has_text="Grace Adeyemi (groupadmin)")).to_contain_text(
        "g@x.org; account open"
    )
    assert_accessible(page, "subject access, found")
    page.screenshot(path="/tmp/foi-sar-sar-desktop.png", full_page=True)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download everything about Grace Adeyemi (zip)").click()
    with zipfile.ZipFile(info.value.path()) as zf:
        assert "profile.csv" in zf.namelist()
        assert "groupadmin" in zf.read("profile.csv").decode("utf-8-sig")
    page.set_viewport_size(VIEWPORTS["phone"])
    visit_and_scan(page, assert_accessible, live_server.url, ["/audit/subject-access/?q=test"])
