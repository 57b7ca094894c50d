"""Cycle arithmetic on the UK wall clock (R4).

A group's period ends every week on its weekday at its local time in Europe/London. The
arithmetic is done on local dates and times and only then converted to UTC for storage,
so a period that spans a clock change still ends at the local hour people expect (it
lasts 167 hours in spring and 169 in autumn), and "48 hours' grace" after Friday 17:00
is Sunday 17:00 whatever the clocks did in between.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC
PERIOD_DAYS = 7


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime


def local_to_utc(day: dt.date, at: dt.time) -> dt.datetime:
    """A UK wall-clock time on a day, in UTC.

    In the spring gap (01:00–02:00 on the last Sunday of March) zoneinfo reads the time
    with the winter offset, which lands one hour later on the clock; in the autumn overlap
    it takes the first of the two instants (fold=0). Both are what a person would expect.
    """
    return dt.datetime.combine(day, at.replace(tzinfo=None), tzinfo=LONDON).astimezone(UTC)


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of a UK day, in UTC: the bound of every range of UK dates
    (a range of days runs from `day_start(first)` to `day_start(last + 1 day)`, exclusive)."""
    return local_to_utc(day, dt.time(0))


def add_local_hours(instant: dt.datetime, hours: int) -> dt.datetime:
    """`hours` later on the UK wall clock (not in elapsed time), in UTC."""
    local = instant.astimezone(LONDON)
    # Adding a timedelta to an aware datetime is wall-clock arithmetic in its own zone;
    # re-reading the naive result in the zone fixes the offset on the far side of a change.
    later = (local.replace(tzinfo=None) + dt.timedelta(hours=hours)).replace(tzinfo=LONDON)
    return later.astimezone(UTC)


def last_ended_period(*, weekday: int, at: dt.time, now: dt.datetime) -> Period:
    """The most recent seven-day period of a group that has ended by `now` (end <= now)."""
    today = now.astimezone(LONDON).date()
    end_day = today - dt.timedelta(days=(today.weekday() - weekday) % PERIOD_DAYS)
    end = local_to_utc(end_day, at)
    if end > now:
        end_day -= dt.timedelta(days=PERIOD_DAYS)
        end = local_to_utc(end_day, at)
    start = local_to_utc(end_day - dt.timedelta(days=PERIOD_DAYS), at)
    return Period(start=start, end=end)


def next_period_end(*, weekday: int, at: dt.time, now: dt.datetime) -> dt.datetime:
    """When the period running at `now` ends."""
    last = last_ended_period(weekday=weekday, at=at, now=now)
    end_day = last.end.astimezone(LONDON).date() + dt.timedelta(days=PERIOD_DAYS)
    return local_to_utc(end_day, at)


def period_label(start: dt.datetime, end: dt.datetime) -> str:
    """A period's UK days in full, as a member confirms it: "Fri 6 Nov to Fri 13 Nov 2026"."""
    first, last = start.astimezone(LONDON), end.astimezone(LONDON)
    return f"{first:%a %-d %b} to {last:%a %-d %b %Y}"


def period_short(start: dt.datetime, end: dt.datetime) -> str:
    """A period's UK days in few characters, for a subject line or a list: "6–13 Nov",
    "30 Oct–6 Nov", "26 Dec 2026–2 Jan 2027". Two weeks of one group never read the same."""
    first, last = start.astimezone(LONDON).date(), end.astimezone(LONDON).date()
    if first.year != last.year:
        return f"{first:%-d %b %Y}–{last:%-d %b %Y}"
    if first.month != last.month:
        return f"{first:%-d %b}–{last:%-d %b}"
    return f"{first:%-d}–{last:%-d %b}"
