"""Fixtures of the clear-down tests: a frozen clock, eager Celery and a closed cycle.

The clock is frozen for every test at BASE (Tuesday 10 November 2026, 09:00 UK time) before
any other fixture runs, so that memberships made by factories have known dates. Tests move
it with `at(...)`. The group of the shared `group` fixture closes on Fridays at 17:00.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from attestations import services
from attestations.periods import LONDON
from opcc_portal.celery import app as celery_app
from tests.factories import ensure_roles


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def london(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LONDON)


BASE = utc(2026, 11, 10, 9)
# The end of a Friday 17:00 period in winter (GMT, so UTC and UK time agree).
PERIOD_END = utc(2026, 11, 13, 17)
PERIOD_START = utc(2026, 11, 6, 17)
DUE = utc(2026, 11, 15, 17)  # + 48 hours' grace


def lock_queries() -> int:
    """Sweeps take an advisory lock on PostgreSQL (one query); SQLite serialises writers itself."""
    return 1 if connection.vendor == "postgresql" else 0


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(BASE, tick=False)
    return time_machine


@pytest.fixture
def at(clock):
    """Move the frozen clock: `at(when)` returns `when`."""

    def move(when: dt.datetime) -> dt.datetime:
        clock.move_to(when, tick=False)
        return when

    return move


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in the test's process, as soon as they are queued."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


@pytest.fixture
def cycle(db, group, at):
    """The closed cycle of `group` for 6–13 November 2026: its admin and member owe."""
    at(PERIOD_END + dt.timedelta(minutes=5))
    result = services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=5))
    assert len(result.cycles) == 1
    return result.cycles[0]


@pytest.fixture
def obligation(cycle, member):
    return cycle.obligations.get(user=member)


def restore_roles() -> None:
    """Put back the roles that data migrations made (see `tests.factories.ensure_roles`)."""
    ensure_roles()
