"""Fixtures of the schedule tests: a frozen clock, eager Celery, and the week of one group.

The shared `group` (tests/conftest.py) closes on Fridays at 17:00 UK time. Its period of
6–13 November 2026 ends at PERIOD_END; the admin's prompt is due a day later (PROMPT_DUE),
the members' deadline two days later (DUE); reminders go 24 hours before DUE.
"""

from __future__ import annotations

import datetime as dt

import pytest

from attestations import notifications
from opcc_portal.celery import app as celery_app


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


BASE = utc(2026, 11, 10, 9)
PERIOD_END = utc(2026, 11, 13, 17)
PROMPT_DUE = utc(2026, 11, 14, 17)
DUE = utc(2026, 11, 15, 17)
MINUTES_15 = dt.timedelta(minutes=15)


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(BASE, tick=False)
    return time_machine


@pytest.fixture
def at(clock):
    def move(when: dt.datetime) -> dt.datetime:
        clock.move_to(when, tick=False)
        return when

    return move


@pytest.fixture(autouse=True)
def eager_celery():
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


@pytest.fixture
def sweep_at(at, django_capture_on_commit_callbacks):
    """Run the 15-minute sweep at a moment, with the emails it queues sent there and then."""

    def run(when: dt.datetime):
        at(when)
        with django_capture_on_commit_callbacks(execute=True):
            return notifications.sweep(now=when)

    return run
