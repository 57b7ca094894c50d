"""The benchmark's yardstick, one hand-written statement of everything the dashboard's first
screen shows (`bench/first_screen.py`), finds what the page finds: otherwise the ratio the
benchmark prints would compare the page with something else."""

import datetime as dt

import pytest
from django.db import connection

from attestations.dashboard import stats
from attestations.models import Flag, Hold
from bench.first_screen import first_screen_by_hand, the_page_s_figures, the_statement_s_figures
from tests import factories
from tests.conftest import service_missing
from tests.dashboard.conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        service_missing("the hand-written SQL is PostgreSQL's (set DATABASE_URL=postgres://…)")


def test_the_hand_written_statement_finds_what_the_page_finds(office, dpo):
    # Something in each of the first screen's lists: the DPO's own clear-down (and one of a
    # group on hold, left out), two people without an address, a hold's timer flag.
    factories.obligation_in_state(cycle=office.b1, user=dpo, state="pending")
    factories.obligation_in_state(cycle=office.c1, user=dpo, state="pending")
    for username, last_name in (("noaddress", "Able"), ("nomail", "Baker")):
        person = factories.UserFactory(username=username, first_name="No", last_name=last_name, email="")
        factories.MembershipFactory(group=office.b, user=person)
    factories.UserFactory(username="bystander", email="")  # in no group: nothing to send them
    hold = Hold.objects.get(group=office.c)
    factories.FlagFactory(
        kind=Flag.Kind.TIMER_NOT_OFF, cycle=None, group=office.c, hold=hold, user=hold.group.admin, raised_at=NOW
    )
    dates = stats.DateRange(first=dt.date(2026, 5, 25), last=dt.date(2026, 11, 17))
    since = NOW - dt.timedelta(days=30)

    found = first_screen_by_hand(
        dates=dates, now=NOW, viewer_id=dpo.pk, failed_since=since, size=2, connection=connection
    )
    theirs = the_statement_s_figures(found)
    mine = the_page_s_figures(dates=dates, now=NOW, viewer=dpo, failed_since=since, size=2)

    assert theirs == mine
    # Not two empty answers agreeing: each part found what the office holds.
    assert mine["this_cycle"] == (2, 1, 2, 2, 1, 2, 0) and mine["members"] == 10
    assert len(mine["table"]) == 2 and mine["strips"] and len(mine["trend"]) == 3
    assert len(mine["own_open"]) == 1 and mine["cannot_email"] == (["noaddress", "nomail"], 2)
    assert len(mine["duty_flags"]) == 1
