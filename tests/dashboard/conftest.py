"""A small office with hand-computed figures, the clock frozen at NOW (Tuesday 17 November 2026, 12:00 UK).

Group A, "Urgent Ops" (Fridays 17:00, admin `admin_user`):
  cycle A0, 30 Oct – 6 Nov, deadline Sun 8 Nov 17:00: admin and member both on time;
            a prompt-missed flag, resolved.
  cycle A1, 6 – 13 Nov, deadline Sun 15 Nov 17:00 (passed):
            admin on time to the second (attested at the deadline), member late by a second,
            Pat overdue (open flag), Ezra excused.
Group B, "Comms On-Call" (Mondays 17:00, admin Bea):
  cycle B1, 9 – 16 Nov, deadline Wed 18 Nov 17:00 (ahead): Bea outstanding, Quinn on time.
Group C, "Estates Project" (Fridays 17:00, admin Cy) on hold since 14 Nov:
  cycle C1, 6 – 13 Nov, held: Cy and Rae held.
Group D, "New Idea": proposed, no cycles.

This cycle: on time 2, late 1, outstanding 1, overdue 1, excused 1, held 2; owed 5, done 3.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from attestations.models import Flag
from groups.models import ChatGroup
from tests import factories


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


NOW = utc(2026, 11, 17, 12)
A0_END, A0_DUE = utc(2026, 11, 6, 17), utc(2026, 11, 8, 17)
A1_END, A1_DUE = utc(2026, 11, 13, 17), utc(2026, 11, 15, 17)
B1_END, B1_DUE = utc(2026, 11, 16, 17), utc(2026, 11, 18, 17)


def make_cycle(group, end: dt.datetime, due: dt.datetime, **kwargs):
    return factories.CycleFactory(
        group=group,
        period_start=kwargs.pop("period_start", end - dt.timedelta(days=7)),
        period_end=end,
        prompt_due_at=end + dt.timedelta(hours=24),
        due_at=due,
        **kwargs,
    )


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@dataclass
class Office:
    a: ChatGroup
    b: ChatGroup
    c: ChatGroup
    d: ChatGroup
    a0: object
    a1: object
    b1: object
    c1: object
    pat: object
    quinn: object
    bea: object


@pytest.fixture
def office(db, group, admin_user, member, dpo):
    a = group
    pat = factories.UserFactory(username="pat", first_name="Pat", last_name="Overdue")
    ezra = factories.UserFactory(username="ezra", first_name="Ezra", last_name="Away")
    for person in (pat, ezra):
        factories.MembershipFactory(group=a, user=person)
    a0 = make_cycle(a, A0_END, A0_DUE)
    a1 = make_cycle(a, A1_END, A1_DUE)
    state = factories.obligation_in_state
    state(cycle=a0, user=admin_user, state="on_time", attested_at=A0_END + dt.timedelta(hours=2))
    state(cycle=a0, user=member, state="on_time", attested_at=A0_DUE)
    state(cycle=a1, user=admin_user, state="on_time", attested_at=A1_DUE)
    state(cycle=a1, user=member, state="late", attested_at=A1_DUE + dt.timedelta(seconds=1))
    state(cycle=a1, user=pat, state="pending")
    state(cycle=a1, user=ezra, state="excused")
    factories.FlagFactory(cycle=a1, user=pat, raised_at=A1_DUE + dt.timedelta(minutes=15))
    factories.FlagFactory(
        cycle=a0,
        user=admin_user,
        kind=Flag.Kind.PROMPT_MISSED,
        raised_at=A0_END + dt.timedelta(hours=24, minutes=15),
        resolved_at=A0_END + dt.timedelta(hours=30),
    )

    bea = factories.UserFactory(username="bea", first_name="Bea", last_name="Comms")
    quinn = factories.UserFactory(username="quinn", first_name="Quinn", last_name="Prompt")
    b = factories.ChatGroupFactory(name="Comms On-Call", admin=bea, cycle_weekday=ChatGroup.Weekday.MONDAY)
    factories.MembershipFactory(group=b, user=quinn)
    b1 = make_cycle(b, B1_END, B1_DUE)
    state(cycle=b1, user=bea, state="pending")
    state(cycle=b1, user=quinn, state="on_time", attested_at=utc(2026, 11, 17, 10))

    cy = factories.UserFactory(username="cy", first_name="Cy", last_name="Estates")
    rae = factories.UserFactory(username="rae", first_name="Rae", last_name="Keeper")
    c = factories.ChatGroupFactory(name="Estates Project", admin=cy)
    factories.MembershipFactory(group=c, user=rae)
    hold = factories.HoldFactory(group=c, placed_by=dpo, placed_at=utc(2026, 11, 14, 9))
    c1 = make_cycle(c, A1_END, A1_DUE, hold=hold)
    state(cycle=c1, user=cy, state="held")
    state(cycle=c1, user=rae, state="held")

    d = factories.ChatGroupFactory(name="New Idea", status=ChatGroup.Status.PROPOSED)
    return Office(a=a, b=b, c=c, d=d, a0=a0, a1=a1, b1=b1, c1=c1, pat=pat, quinn=quinn, bea=bea)


@pytest.fixture
def dpo_client(client, dpo):
    client.force_login(dpo)
    return client


def text(response) -> str:
    return response.content.decode()
