"""Pages of a suspended or retired group (R13): what is still owed, and why, said the same way
on the member's home, the emailed link's page and the group page. A hold still wins."""

import datetime as dt

import pytest
from django.urls import reverse

from attestations import links, selectors, services
from attestations.models import Cycle
from groups import services as group_services
from tests.attestations.conftest import DUE, PERIOD_END
from tests.factories import HoldFactory

pytestmark = pytest.mark.django_db

SUSPENDED_AT = PERIOD_END + dt.timedelta(hours=2)  # Friday 13 November 2026, 19:00
SUSPENDED = "Group suspended on 13 Nov 2026: clear it and do not post in it."
RETIRED = "Group retired on 13 Nov 2026: clear it one last time, then leave it."


def stop(cycle, dpo, at, action: str):
    at(SUSPENDED_AT)
    group_services.chatgroup_transition(group=cycle.group, action=action, by=dpo, reason="Team moved to Teams")
    services.cycle_close_due(now=at(SUSPENDED_AT + dt.timedelta(minutes=15)))


def page(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_members_home_says_an_overdue_clear_down_of_a_suspended_group_is_still_owed_and_why(
    client, cycle, member, dpo, at
):
    stop(cycle, dpo, at, "suspend")
    at(DUE + dt.timedelta(hours=1))
    body = page(client, member, "/")
    assert body.count(SUSPENDED) == 2  # the week, and the final period up to the suspension
    assert "You can still confirm: it will be marked late." in body
    assert 'status-suspended">Suspended</span>' in body


def test_the_members_home_gives_the_retirement_and_its_final_clear_down(client, cycle, member, dpo, at):
    stop(cycle, dpo, at, "retire")
    body = page(client, member, "/")
    assert body.count(RETIRED) == 2
    assert '<span class="fw-normal">13 Nov</span>' in body  # the final period, 13 Nov 17:00 to 19:00


def test_the_members_home_says_nothing_of_suspension_for_a_group_taking_part(client, cycle, member):
    body = page(client, member, "/")
    assert "suspended" not in body.lower() and "retired" not in body.lower()


def test_the_emailed_links_page_says_why(client, cycle, member, dpo, at):
    stop(cycle, dpo, at, "suspend")
    token = links.obligation_link_token(cycle.obligations.get(user=member))
    body = page(client, member, reverse("attestations:link", args=[token]))
    assert SUSPENDED in body and "Confirm my clear-down" in body


@pytest.mark.parametrize(("action", "note"), [("suspend", SUSPENDED), ("retire", RETIRED)])
def test_the_group_page_says_why_to_everyone_who_sees_it(client, cycle, member, admin_user, dpo, at, action, note):
    stop(cycle, dpo, at, action)
    for user in (member, admin_user, dpo):
        body = page(client, user, cycle.group.get_absolute_url())
        assert note in body
    body = page(client, admin_user, cycle.group.get_absolute_url())
    assert f"The final period: it ended when the group was {action}" in body
    assert "Issue prompt" in body  # the final clear-down is prompted like any other


def test_a_hold_wins_over_the_suspension_on_every_page(client, cycle, member, dpo, at):
    stop(cycle, dpo, at, "suspend")
    HoldFactory(group=cycle.group, placed_by=dpo)
    home = page(client, member, "/")
    group_page = page(client, member, cycle.group.get_absolute_url())
    for body in (home, group_page):
        assert "Do NOT clear this chat" in body
        assert SUSPENDED not in body
    assert Cycle.objects.filter(group=cycle.group).count() == 2


def test_the_message_to_paste_into_the_group_says_why(cycle, admin_user, dpo, at):
    stop(cycle, dpo, at, "retire")
    final = Cycle.objects.get(group=cycle.group, period_end=SUSPENDED_AT)
    services.cycle_prompt(cycle=final, by=admin_user)
    text = selectors.cycle_prompt_text(cycle=final)
    assert text.splitlines()[1].startswith(RETIRED)
    assert "Fri 13 Nov to Fri 13 Nov" in text.splitlines()[0]
