"""The dashboard for suspended and retired groups (R13): their clear-downs are counted as owed,
flagged like any other, and every figure's rows say why."""

import datetime as dt

import pytest
from django.urls import reverse

from attestations import services
from attestations.dashboard import stats
from groups import services as group_services
from tests.dashboard.conftest import NOW, text

pytestmark = pytest.mark.django_db

ALL = stats.Scope()
DATES = stats.DateRange(first=dt.date(2026, 5, 25), last=dt.date(2026, 11, 17))


@pytest.fixture
def suspended(office, dpo):
    """Urgent Ops suspended now (Tuesday 17 November), with Pat's clear-down still overdue."""
    return group_services.chatgroup_transition(group=office.a, action="suspend", by=dpo, reason="Moved to Teams")


@pytest.mark.parametrize("from_table", [False, True])
def test_the_headline_counts_a_suspended_groups_clear_downs_as_owed_and_flags_them(suspended, from_table):
    services.flags_raise(now=NOW)
    table = stats.group_table(scope=ALL, dates=DATES, now=NOW) if from_table else None
    h = stats.headline(scope=ALL, dates=DATES, now=NOW, table=table)
    assert (h.approved, h.suspended) == (2, 1)
    assert (h.latest.owed, h.latest.overdue) == (5, 1)  # as before the suspension
    # Pat's flag was already open; the prompt of Urgent Ops' week, missed, is flagged now.
    assert (h.open_overdue_flags, h.open_prompt_flags) == (1, 1)


def test_the_group_table_gives_the_date_and_says_the_clear_downs_are_still_owed(dpo_client, suspended):
    page = text(dpo_client.get(reverse("dashboard:index")))
    assert 'Suspended on 17 Nov 2026</span><div class="small">Clear-downs still owed</div>' in page
    assert page.count("Clear-downs still owed") == 1


def test_the_drill_down_and_the_rows_of_a_figure_say_why(dpo_client, suspended, office):
    drill = text(dpo_client.get(reverse("dashboard:group", args=[office.a.pk])))
    assert "Group suspended on 17 Nov 2026: clear it and do not post in it." in drill
    rows = text(dpo_client.get(reverse("dashboard:obligations") + "?latest=1&bucket=overdue"))
    assert "Pat Overdue" in rows and "Suspended on 17 Nov 2026: still owed" in rows
    person = text(dpo_client.get(reverse("dashboard:person", args=[office.pat.pk])))
    assert "Suspended on 17 Nov 2026: still owed" in person


def test_the_drill_down_of_a_group_on_hold_shows_the_hold_only(dpo_client, office, dpo):
    group_services.chatgroup_transition(group=office.c, action="suspend", by=dpo, reason="Paused")
    drill = text(dpo_client.get(reverse("dashboard:group", args=[office.c.pk])))
    assert "Do NOT clear this chat" in drill and "clear it and do not post" not in drill
