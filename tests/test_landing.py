"""Where each role lands after signing in, and that landing there hides no duty of their own.

The DPO lands on the dashboard and an auditor on the audit history: their work. A DPO or
auditor who is also a member of a group and owes a clear-down sees it in a panel at the top
of that page, with a link to confirm it (R12). A `next` (an emailed link, a bookmark) wins.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from attestations import services
from attestations.models import Obligation
from tests.factories import PASSWORD, ChatGroupFactory, MembershipFactory

pytestmark = pytest.mark.django_db

# Tuesday 10 November 2026, 09:00 UK; the group's week closes on Friday 13 November, 17:00.
BASE = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)
CLOSED = dt.datetime(2026, 11, 13, 17, 5, tzinfo=dt.UTC)
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(BASE, tick=False)
    return time_machine


def sign_in(client, user, **query):
    url = LOGIN + (f"?next={query['next']}" if "next" in query else "")
    return client.post(url, {"username": user.username, "password": PASSWORD})


def owes_a_clear_down(user, clock):
    """Put `user` in a group and close its week, so they owe one clear-down."""
    group = ChatGroupFactory(name="Night Shift")
    MembershipFactory(group=group, user=user)
    clock.move_to(CLOSED, tick=False)
    services.cycle_close_due(now=CLOSED)
    return group


@pytest.mark.parametrize(
    ("role", "lands_on"),
    [("dpo", "/dashboard/"), ("auditor", "/audit/"), ("member", "/"), ("admin_user", "/")],
)
def test_each_role_lands_where_their_work_is(client, request, role, lands_on):
    response = sign_in(client, request.getfixturevalue(role))
    assert response.status_code == 302 and response["Location"] == lands_on
    # Signed in already, the sign-in page sends them to the same place.
    assert client.get(LOGIN)["Location"] == lands_on


@pytest.mark.parametrize("role", ["dpo", "auditor", "member"])
def test_a_next_still_wins(client, request, role):
    response = sign_in(client, request.getfixturevalue(role), next="/groups/")
    assert response["Location"] == "/groups/"


@pytest.mark.parametrize(("role", "url_name"), [("dpo", "dashboard:index"), ("auditor", "audit:history")])
def test_the_landing_page_shows_the_persons_own_clear_downs_with_a_link_to_confirm(
    client, request, clock, role, url_name
):
    person = request.getfixturevalue(role)
    owes_a_clear_down(person, clock)
    client.force_login(person)
    html = client.get(reverse(url_name)).content.decode()
    assert "Your own clear-downs" in html
    assert "Night Shift (6 Nov – 13 Nov), confirm by Sun 15 Nov, 17:00" in html
    assert f'href="{reverse("home")}">Confirm on My clear-downs</a>' in html


@pytest.mark.parametrize(("role", "url_name"), [("dpo", "dashboard:index"), ("auditor", "audit:history")])
def test_no_panel_when_nothing_is_owed(client, request, clock, role, url_name, member):
    # Someone else owes; this person does not.
    owes_a_clear_down(member, clock)
    person = request.getfixturevalue(role)
    client.force_login(person)
    assert "Your own clear-downs" not in client.get(reverse(url_name)).content.decode()


def test_once_confirmed_the_panel_goes(client, dpo, clock):
    group = owes_a_clear_down(dpo, clock)
    client.force_login(dpo)
    obligation = Obligation.objects.get(user=dpo, cycle__group=group)
    client.post(reverse("home"), {"obligations": [obligation.pk], "cleared_on": "2026-11-13", "confirmed_saved": "on"})
    assert "Your own clear-downs" not in client.get(reverse("dashboard:index")).content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_dpo_and_auditor_land_on_their_work_and_reach_their_own_clear_down(
    live_server, page, login_page, assert_accessible, clock, dpo, auditor, size
):
    from playwright.sync_api import expect

    from tests.conftest import VIEWPORTS

    group = ChatGroupFactory(name="Night Shift")
    for person in (dpo, auditor):
        MembershipFactory(group=group, user=person)
    clock.move_to(CLOSED, tick=False)
    services.cycle_close_due(now=CLOSED)
    clock.move_to(CLOSED + dt.timedelta(minutes=1), tick=True)  # the browser needs a running clock
    page.set_viewport_size(VIEWPORTS[size])
    for person, heading in ((dpo, "Clear-down dashboard"), (auditor, "Change history")):
        page.context.clear_cookies()
        login_page(person)
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        panel = page.get_by_role("region", name="Your own clear-downs")
        expect(panel).to_contain_text("Night Shift (6 Nov – 13 Nov), confirm by Sun 15 Nov, 17:00")
        assert_accessible(page, f"{heading} with the panel, {size}")
        panel.get_by_role("link", name="Confirm on My clear-downs").click()
        expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
        expect(page.locator(".obligation-item", has_text="Night Shift")).to_be_visible()
        expect(page.get_by_role("button", name="Confirm my clear-down")).to_be_visible()
