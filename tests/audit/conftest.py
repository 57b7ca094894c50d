"""Fixtures of the audit tests: a small but complete record made through the services.

`make_record` builds, for one group: a closed cycle, an attestation (chained in the
ledger), an overdue flag, a change of admin by the DPO and an FOI hold. Unit tests run it
under a frozen clock; the browser test runs it at the real time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from attestations import hold_notices, services
from attestations.models import Cycle, Flag, Hold, Obligation
from attestations.periods import LONDON
from groups import services as group_services
from groups.models import ChatGroup, Membership, ReviewAnswer

NOW = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)


@dataclass
class Record:
    group: ChatGroup
    cycle: Cycle
    attested: Obligation
    overdue: Obligation
    flag: Flag
    hold: Hold


def make_record(*, group, member, admin_user, dpo, reference: str = "FOI-2026-0042") -> Record:
    now = timezone.now()
    [cycle] = services.cycle_close_due(now=now).cycles
    attested = cycle.obligations.get(user=member)
    services.obligation_attest(
        obligations=[attested],
        user=member,
        cleared_on=now.astimezone(LONDON).date(),
        confirmed_cleared=True,
        confirmed_saved=True,
        where_saved="Case 2026/114",
        now=now,
    )
    overdue = cycle.obligations.get(user=admin_user)
    raised = services.flags_raise(now=cycle.due_at + dt.timedelta(hours=1)).raised
    [flag] = [f for f in raised if f.user == admin_user and f.kind == Flag.Kind.MEMBER_OVERDUE]
    # A review of the group answered about each member (R16), for the review export.
    review = group_services.review_schedule(group=group, after=now, by=dpo)
    for membership in Membership.objects.active().filter(group=group):
        ReviewAnswer.objects.create(review=review, membership=membership, submission=1, keep=True)
    group_services.chatgroup_set_admin(group=group, user=member, by=dpo)
    hold = hold_notices.hold_place(
        group=group,
        by=dpo,
        reference=reference,
        reason="FOI request",
        now=cycle.due_at + dt.timedelta(hours=2),
        queue=False,
    )
    attested.refresh_from_db()
    overdue.refresh_from_db()
    flag.refresh_from_db()
    return Record(group=group, cycle=cycle, attested=attested, overdue=overdue, flag=flag, hold=hold)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def record(clock, group, member, admin_user, dpo):
    return make_record(group=group, member=member, admin_user=admin_user, dpo=dpo)
