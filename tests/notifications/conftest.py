"""Fixtures of the schedule tests: a frozen clock, eager Celery, and the week of one group.

The shared `group` (tests/conftest.py) closes on Fridays at 17:00 UK time. Its period of
6–13 November 2026 ends at PERIOD_END; the admin's prompt is due a day later (PROMPT_DUE),
the members' deadline two days later (DUE); reminders go 24 hours before DUE.
"""

from __future__ import annotations

import datetime as dt

import pytest

from attestations.notifications import sweep as notifications

# The same week, frozen clock and eager Celery as the clear-down tests.
from tests.attestations.conftest import BASE, DUE, PERIOD_END, at, clock, eager_celery, utc  # noqa: F401 - fixtures

PROMPT_DUE = utc(2026, 11, 14, 17)
MINUTES_15 = dt.timedelta(minutes=15)


@pytest.fixture
def sweep_at(at, django_capture_on_commit_callbacks):  # noqa: F811 - `at` is the imported fixture
    """Run the 15-minute sweep at a moment, with the emails it queues sent there and then."""

    def run(when: dt.datetime):
        at(when)
        with django_capture_on_commit_callbacks(execute=True):
            return notifications.sweep(now=when)

    return run
