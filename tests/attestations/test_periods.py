"""Cycle arithmetic on the UK wall clock, across both clock changes (R4)."""

import datetime as dt

import pytest

from attestations import periods
from tests.attestations.conftest import london, utc

FRIDAY, SUNDAY = 4, 6
FIVE_PM = dt.time(17, 0)


def test_it_ends_a_winter_period_at_the_local_time():
    period = periods.last_ended_period(weekday=FRIDAY, at=FIVE_PM, now=utc(2026, 11, 13, 17, 0))
    assert period.end == utc(2026, 11, 13, 17)
    assert period.start == utc(2026, 11, 6, 17)


def test_it_takes_the_previous_period_one_second_before_the_end():
    period = periods.last_ended_period(weekday=FRIDAY, at=FIVE_PM, now=utc(2026, 11, 13, 16, 59, 59))
    assert period.end == utc(2026, 11, 6, 17)


def test_it_ends_a_period_spanning_the_spring_change_at_the_local_hour():
    # Clocks go forward on Sunday 29 March 2026: the period lasts 167 hours.
    period = periods.last_ended_period(weekday=FRIDAY, at=FIVE_PM, now=london(2026, 4, 3, 17, 0))
    assert period.end == utc(2026, 4, 3, 16) == london(2026, 4, 3, 17)
    assert period.start == utc(2026, 3, 27, 17) == london(2026, 3, 27, 17)
    assert period.end - period.start == dt.timedelta(hours=167)


def test_it_ends_a_period_spanning_the_autumn_change_at_the_local_hour():
    # Clocks go back on Sunday 25 October 2026: the period lasts 169 hours.
    period = periods.last_ended_period(weekday=FRIDAY, at=FIVE_PM, now=utc(2026, 10, 30, 17, 0))
    assert period.end == utc(2026, 10, 30, 17)
    assert period.start == utc(2026, 10, 23, 16) == london(2026, 10, 23, 17)
    assert period.end - period.start == dt.timedelta(hours=169)


def test_it_is_not_fooled_an_hour_early_in_summer():
    # 16:30 UTC on a summer Friday is 17:30 in London: the period has ended.
    period = periods.last_ended_period(weekday=FRIDAY, at=FIVE_PM, now=utc(2026, 7, 3, 16, 30))
    assert period.end == utc(2026, 7, 3, 16)


@pytest.mark.parametrize(
    "end, hours, expected",
    [
        # Friday 17:00 GMT + 48 wall-clock hours = Sunday 17:00 BST (47 hours later).
        (utc(2026, 3, 27, 17), 48, utc(2026, 3, 29, 16)),
        # Friday 17:00 BST + 48 wall-clock hours = Sunday 17:00 GMT (49 hours later).
        (utc(2026, 10, 23, 16), 48, utc(2026, 10, 25, 17)),
        (utc(2026, 11, 13, 17), 48, utc(2026, 11, 15, 17)),
    ],
)
def test_it_counts_grace_hours_on_the_wall_clock(end, hours, expected):
    assert periods.add_local_hours(end, hours) == expected


def test_it_reads_a_time_in_the_spring_gap_as_the_hour_after():
    # 01:30 does not exist on 29 March 2026; it is read as 02:30 BST (01:30 UTC).
    assert periods.local_to_utc(dt.date(2026, 3, 29), dt.time(1, 30)) == utc(2026, 3, 29, 1, 30)


def test_it_reads_a_time_in_the_autumn_overlap_as_the_first_one():
    # 01:30 happens twice on 25 October 2026; the first is 01:30 BST (00:30 UTC).
    assert periods.local_to_utc(dt.date(2026, 10, 25), dt.time(1, 30)) == utc(2026, 10, 25, 0, 30)


def test_it_gives_the_end_of_the_running_period():
    assert periods.next_period_end(weekday=SUNDAY, at=FIVE_PM, now=utc(2026, 11, 10, 9)) == utc(2026, 11, 15, 17)


@pytest.mark.parametrize(
    "start, end, short",
    [
        (utc(2026, 11, 6, 17), utc(2026, 11, 13, 17), "6–13 Nov"),
        (utc(2026, 10, 30, 17), utc(2026, 11, 6, 17), "30 Oct–6 Nov"),
        (utc(2026, 12, 25, 17), utc(2027, 1, 1, 17), "25 Dec 2026–1 Jan 2027"),
        # UK days, not UTC days: 23:30 UTC on 31 March 2027 is 00:30 on 1 April in London.
        (utc(2027, 3, 24, 23, 30), utc(2027, 3, 31, 23, 30), "24 Mar–1 Apr"),
        # A final period of a group stopped on the day its last week ended: one day, said once.
        (utc(2026, 11, 13, 17), utc(2026, 11, 13, 19), "13 Nov"),
    ],
)
def test_it_names_a_periods_dates_shortly_in_uk_days(start, end, short):
    assert periods.period_short(start, end) == short


def test_it_names_a_periods_dates_in_full():
    assert periods.period_label(utc(2026, 11, 6, 17), utc(2026, 11, 13, 17)) == "Fri 6 Nov to Fri 13 Nov 2026"


@pytest.mark.parametrize(
    ("day", "start"),
    [
        (dt.date(2026, 12, 1), utc(2026, 12, 1, 0)),  # winter: UK midnight is UTC midnight
        (dt.date(2026, 6, 6), utc(2026, 6, 5, 23)),  # summer: an hour earlier in UTC
    ],
)
def test_a_uk_day_starts_at_its_midnight(day, start):
    assert periods.day_start(day) == start
