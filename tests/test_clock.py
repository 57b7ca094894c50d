"""The suite's own clock (tests/clock.py): each run starts at a chosen instant, reproducibly."""

import datetime as dt
import time

import pytest
import time_machine
from django.utils import timezone

from tests import clock

UK = clock.UK
TWO_WEEKS = dt.timedelta(days=14)


def datetime_uk(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=UK)


def test_it_travels_this_process_to_the_instant_the_run_chose(request):
    choice = request.config.stash[clock._STASH_KEY]
    if choice["instant"] is None:
        pytest.skip("TEST_CLOCK=real: this run is on the real clock")
    started = dt.datetime.fromisoformat(choice["instant"])
    # Every process, xdist workers included, starts at the same instant and ticks from there.
    assert started <= timezone.now() < started + dt.timedelta(hours=1)


@pytest.mark.real_clock
def test_it_leaves_a_real_clock_test_on_the_real_clock():
    if time_machine.escape_hatch.is_travelling():
        assert abs(time.time() - time_machine.escape_hatch.time.time()) < 5


def test_a_test_that_freezes_time_still_does(time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 13, 17, tzinfo=dt.UTC), tick=False)
    assert timezone.now() == dt.datetime(2026, 11, 13, 17, tzinfo=dt.UTC)


def test_a_seed_always_stands_for_the_same_instant():
    assert clock.instant_for_seed(12345) == clock.instant_for_seed(12345)
    assert clock.choose({"TEST_CLOCK_SEED": "7"}) == {"instant": clock.instant_for_seed(7).isoformat(), "seed": 7}


def test_the_seeds_cover_every_hour_of_the_week_and_both_clock_changes():
    instants = [clock.instant_for_seed(seed) for seed in range(20_000)]
    assert {(i.weekday(), i.hour) for i in instants} == {(day, hour) for day in range(7) for hour in range(24)}
    # In UTC: two times in one zone compare by the wall clock, the October fold ignored.
    in_utc = {i.astimezone(dt.UTC) for i in instants}
    inside = set()
    for monday in clock.REFERENCE_FORTNIGHTS:
        start, end = (datetime_uk(day).astimezone(dt.UTC) for day in (monday, monday + TWO_WEEKS))
        these = {i for i in in_utc if start <= i < end}
        hours = {i.replace(minute=0) for i in these}
        assert len(hours) == (end - start) / dt.timedelta(hours=1)  # every hour of it: 335, 336 or 337
        inside |= these
    assert inside == in_utc
    # Both 01:00-02:00 hours of the October night, and the hours either side of the March jump.
    october_night = {i.utcoffset() for i in instants if (i.date(), i.hour) == (dt.date(2026, 10, 25), 1)}
    assert october_night == {dt.timedelta(hours=1), dt.timedelta(0)}
    march_night = {i.hour for i in instants if i.date() == dt.date(2026, 3, 29) and i.hour < 4}
    assert march_night == {0, 2, 3}  # 01:00-02:00 does not exist that night


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-29T18:30", dt.datetime(2026, 11, 29, 18, 30, tzinfo=UK)),  # UK time, GMT
        ("2026-07-01T09:00", dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC)),  # UK time, BST
        ("2026-10-25T01:30+00:00", dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)),  # the second 01:30
    ],
)
def test_it_starts_where_test_clock_says(value, expected):
    choice = clock.choose({"TEST_CLOCK": value, "TEST_CLOCK_SEED": "7"})  # the instant wins over a seed
    assert choice == {"instant": expected.astimezone(UK).isoformat(), "seed": None}


def test_test_clock_real_leaves_the_real_clock():
    assert clock.choose({"TEST_CLOCK": "real"}) == {"instant": None, "seed": None}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TEST_CLOCK": "Sunday evening"}, "TEST_CLOCK='Sunday evening' is not a date and time"),
        ({"TEST_CLOCK_SEED": "twelve"}, "TEST_CLOCK_SEED='twelve' is not a whole number"),
    ],
)
def test_a_malformed_setting_is_a_clear_usage_error(environ, message):
    with pytest.raises(pytest.UsageError, match=message):
        clock.choose(environ)


def test_the_header_says_how_to_run_at_the_same_instant_again():
    seeded = clock.describe({"instant": dt.datetime(2026, 10, 22, 10, 23, tzinfo=UK).isoformat(), "seed": 7})
    assert seeded == (
        "test clock: starts Thu 22 Oct 2026 10:23 BST, seed 7"
        " (again: TEST_CLOCK_SEED=7 or TEST_CLOCK=2026-10-22T10:23+01:00)"
    )
