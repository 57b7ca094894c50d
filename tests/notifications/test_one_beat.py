"""Exactly one beat is effective even if two are started by mistake: each beat-scheduled task
claims its slot (`services.beat_tick_claim`), and a second copy of the same tick does nothing."""

import datetime as dt

import pytest
from django.db import connection

from attestations import services
from attestations.models import BeatTick, Cycle, Heartbeat, SentEmail
from attestations.notifications import tasks
from tests.conftest import run_at_once, service_missing
from tests.factories import MembershipFactory, UserFactory
from tests.notifications.conftest import DUE, MINUTES_15, PERIOD_END

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_copy_of_a_sweep_tick_does_nothing(group, at, settings, caplog):
    now = at(PERIOD_END + dt.timedelta(minutes=16))  # 17:16 GMT: the 17:15 slot
    assert tasks.sweep() == 0
    assert Cycle.objects.count() == 1
    with caplog.at_level("INFO", logger="attestations.services"):
        assert tasks.sweep() is None  # the other beat's copy of the 17:15 tick
    assert [r.getMessage() for r in caplog.records if r.name == "attestations.services"] == [
        "sweep for 2026-11-13T17:15:00+00:00 already ran (a second beat?); skipped"
    ]
    [tick] = BeatTick.objects.all()
    assert (tick.task, tick.slot, tick.ran_at) == ("sweep", PERIOD_END + MINUTES_15, now)
    # The next slot runs again.
    at(PERIOD_END + dt.timedelta(minutes=30))
    assert tasks.sweep() == 0
    assert BeatTick.objects.filter(task="sweep").count() == 2


def test_the_heartbeat_and_the_weekly_summary_also_run_once_per_tick(db, at):
    at(dt.datetime(2026, 11, 16, 8, 0, 5, tzinfo=dt.UTC))  # Monday 08:00 GMT
    tasks.heartbeat()
    first = Heartbeat.objects.get(name="worker").seen_at
    at(dt.datetime(2026, 11, 16, 8, 0, 9, tzinfo=dt.UTC))
    tasks.heartbeat()
    assert Heartbeat.objects.get(name="worker").seen_at == first  # the second copy did nothing
    assert tasks.send_dpo_summaries() == 0 and tasks.send_dpo_summaries() is None
    assert sorted(BeatTick.objects.values_list("task", flat=True)) == ["dpo-summary", "heartbeat"]


@pytest.mark.parametrize(
    ("now", "every", "slot"),
    [
        (dt.datetime(2026, 11, 13, 17, 14, 59, tzinfo=dt.UTC), 15, dt.datetime(2026, 11, 13, 17, 0, tzinfo=dt.UTC)),
        # Two copies of a tick a few microseconds apart claim the same slot.
        (
            dt.datetime(2026, 11, 13, 17, 14, 59, 999_999, tzinfo=dt.UTC),
            15,
            dt.datetime(2026, 11, 13, 17, 0, tzinfo=dt.UTC),
        ),
        (dt.datetime(2026, 11, 13, 17, 15, 0, tzinfo=dt.UTC), 15, dt.datetime(2026, 11, 13, 17, 15, tzinfo=dt.UTC)),
        (dt.datetime(2026, 11, 13, 17, 59, 1, tzinfo=dt.UTC), 60, dt.datetime(2026, 11, 13, 17, 0, tzinfo=dt.UTC)),
        (dt.datetime(2026, 11, 13, 17, 7, 30, tzinfo=dt.UTC), 5, dt.datetime(2026, 11, 13, 17, 5, tzinfo=dt.UTC)),
    ],
)
def test_the_slot_is_the_start_of_the_schedule_step(now, every, slot):
    assert services.beat_tick_slot(now=now, every_minutes=every) == slot


def test_ticks_older_than_a_week_are_pruned(db, at):
    old = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    assert services.beat_tick_claim(task="sweep", every_minutes=15, now=old)
    assert services.beat_tick_claim(task="sweep", every_minutes=15, now=old + dt.timedelta(days=7, minutes=15))
    assert list(BeatTick.objects.values_list("slot", flat=True)) == [old + dt.timedelta(days=7, minutes=15)]


def test_two_copies_of_a_tick_at_once_have_one_effect(group, at, django_capture_on_commit_callbacks):
    """Two beats send the same tick; two workers run both copies at the same instant."""
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL for concurrent transactions (set DATABASE_URL)")
    for _ in range(10):
        MembershipFactory(group=group, user=UserFactory())
    at(PERIOD_END + MINUTES_15)
    tasks.sweep()
    at(DUE + dt.timedelta(minutes=16))
    results = []
    assert run_at_once(lambda: results.append(tasks.sweep()), lambda: results.append(tasks.sweep())) == ["ok", "ok"]
    # One copy did the work (12 overdue members: one digest to the admin), the other nothing.
    assert sorted(results, key=lambda r: r is None) == [1, None]
    assert SentEmail.objects.filter(kind="admin_digest").count() == 1
    assert BeatTick.objects.filter(task="sweep", slot=DUE + MINUTES_15).count() == 1
