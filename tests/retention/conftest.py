"""Fixtures of the retention tests: two groups with old and recent clear-downs, one under a hold."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessLog

from attestations import services
from attestations.models import ExportLog, Hold, SentEmail
from tests import factories

OLD = dt.datetime(2026, 1, 12, 10, tzinfo=dt.UTC)  # a Monday in January
NOW = dt.datetime(2026, 11, 16, 10, tzinfo=dt.UTC)  # ten months later
SCHEDULE = {
    "clear_downs": 90,
    "emails": 60,
    "flags": 60,
    "holds": 90,
    "register_history": None,
    "export_logs": 90,
    "sign_ins": 30,
    "calendar_feeds": 30,
}


def attest(cycle, user, *, when):
    obligation = factories.ObligationFactory(cycle=cycle, user=user)
    services.obligation_attest(
        obligations=[obligation],
        user=user,
        cleared_on=cycle.period_end.date(),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=when,
    )
    obligation.refresh_from_db()
    return obligation


def email(*, when, **fields):
    return SentEmail.objects.create(
        key=f"k{SentEmail.objects.count()}",
        kind=SentEmail.Kind.REMINDER,
        to_address="someone@example.org",
        subject="A reminder",
        created_at=when,
        status=SentEmail.Status.SENT,
        sent_at=when,
        **fields,
    )


@pytest.fixture
def schedule(settings):
    settings.RETENTION = dict(SCHEDULE)
    settings.RETENTION_BATCH_SIZE = 2  # several batches, even in a small test
    return settings


@pytest.fixture
def world(time_machine, schedule, dpo):
    """Two groups with old and recent clear-downs, attested in turn so their ledger entries
    interleave; the second group is under a standing hold."""
    time_machine.move_to(OLD, tick=False)
    kept_group = factories.ChatGroupFactory(name="Held group")
    gone_group = factories.ChatGroupFactory(name="Plain group")
    people = [factories.UserFactory() for _ in range(2)]
    old = {}
    for week in range(2):
        end = OLD + dt.timedelta(days=7 * week)
        for group in (gone_group, kept_group):
            cycle = factories.CycleFactory(group=group, period_end=end)
            old[(group.name, week)] = [attest(cycle, p, when=cycle.due_at - dt.timedelta(hours=1)) for p in people]
    old_gone = old[("Plain group", 0)] + old[("Plain group", 1)]
    oldest_due = old_gone[0].cycle.due_at
    # An unattested old week, its flag (settled) and the emails about it.
    overdue_cycle = factories.CycleFactory(group=gone_group, period_end=OLD + dt.timedelta(days=14))
    overdue = factories.ObligationFactory(cycle=overdue_cycle, user=people[0])
    flag = factories.FlagFactory(
        cycle=overdue_cycle,
        user=people[0],
        raised_at=OLD + dt.timedelta(days=17),
        resolved_at=OLD + dt.timedelta(days=18),
    )
    reminder = email(when=OLD + dt.timedelta(days=15), group=gone_group, cycle=overdue_cycle, obligation=overdue)
    held_email = email(when=OLD + dt.timedelta(days=15), group=kept_group)
    summary = email(when=OLD + dt.timedelta(days=15))
    held_flag = factories.FlagFactory(
        cycle=old[("Held group", 0)][0].cycle,
        user=people[0],
        raised_at=OLD + dt.timedelta(days=3),
        resolved_at=OLD + dt.timedelta(days=4),
    )
    old_export = ExportLog.objects.create(user=dpo, kind="register", format="csv", started_at=OLD)
    old_sign_in = AccessLog.objects.create(username="someone", ip_address="10.0.0.1", attempt_time=OLD)
    # A lifted hold on the plain group, long ago; a standing one on the other.
    old_hold = factories.HoldFactory(group=gone_group, placed_by=dpo, placed_at=OLD)
    Hold.objects.filter(pk=old_hold.pk).update(lifted_at=OLD + dt.timedelta(days=1), lifted_by=dpo)
    factories.HoldFactory(group=kept_group, placed_by=dpo, placed_at=OLD + dt.timedelta(days=30))
    # This month: nothing of it may go.
    time_machine.move_to(NOW, tick=False)
    recent_cycle = factories.CycleFactory(group=gone_group, period_end=NOW - dt.timedelta(days=3))
    recent = attest(recent_cycle, people[1], when=NOW - dt.timedelta(hours=2))
    recent_email = email(when=NOW - dt.timedelta(days=1), group=gone_group)
    return {
        "old_gone": old_gone,
        "oldest_due": oldest_due,
        "old_kept": old[("Held group", 0)] + old[("Held group", 1)],
        "overdue": overdue,
        "flag": flag,
        "held_flag": held_flag,
        "reminder": reminder,
        "held_email": held_email,
        "summary": summary,
        "old_export": old_export,
        "old_sign_in": old_sign_in,
        "old_hold": old_hold,
        "recent": recent,
        "recent_email": recent_email,
    }
