"""Each member's clear-down deadlines as an iCal feed, behind a secret address (issue 15).

The feed holds one event per upcoming deadline: the clear-downs the person owes now, and
the deadlines their groups' schedules will bring over the next CALENDAR_WEEKS_AHEAD weeks,
each with an alarm CALENDAR_ALARM_HOURS before it. Times are written in Europe/London
with its VTIMEZONE, so a calendar shows 17:00 on both sides of a clock change. A group
under a hold has no deadline (R9), nor does a suspended or retired group start new weeks
(R13); what is owed from before stays in the feed.

The address carries a random token, the feed's only key: the feed answers 404 to any
other, and resetting the token kills the old address.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from groups.models import ChatGroup, Membership

from . import periods, selectors
from .models import CalendarFeed, Hold

# Half an hour ending at the deadline: a calendar shows a short block at the time that counts.
EVENT_LENGTH = dt.timedelta(minutes=30)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


# --- Services --------------------------------------------------------------------------------


@transaction.atomic
def calendar_feed_create(*, user: AbstractBaseUser, now: dt.datetime | None = None) -> CalendarFeed:
    """The person's feed, made the first time they ask; asking again returns the same one."""
    feed, _ = CalendarFeed.objects.get_or_create(
        user=user, defaults={"token": _new_token(), "created_at": now or timezone.now()}
    )
    return feed


@transaction.atomic
def calendar_feed_reset(*, user: AbstractBaseUser, now: dt.datetime | None = None) -> CalendarFeed:
    """A new secret address: the old one answers 404 from this moment."""
    now = now or timezone.now()
    feed = CalendarFeed.objects.select_for_update().filter(user=user).first()
    if feed is None:
        return calendar_feed_create(user=user, now=now)
    feed.token = _new_token()
    feed.reset_at = now
    feed.save(update_fields=["token", "reset_at"])
    return feed


# --- Selectors -------------------------------------------------------------------------------


def calendar_feed_of(*, user: AbstractBaseUser) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user).first()


def calendar_feed_owner(*, token: str) -> AbstractBaseUser | None:
    """Whose feed a token opens, or None: an unknown token, or a disabled account."""
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
    return feed.user if feed and feed.user.is_active else None


@dataclass(frozen=True)
class Deadline:
    group_id: int
    group_name: str
    period_start: dt.datetime
    period_end: dt.datetime
    due_at: dt.datetime


def member_deadlines(*, user: AbstractBaseUser, now: dt.datetime | None = None) -> list[Deadline]:
    """The person's open clear-downs and their groups' coming deadlines, soonest first.

    Two queries, however many groups: the open obligations, and the active memberships of
    approved groups not under a hold.
    """
    now = now or timezone.now()
    owed = [
        Deadline(o.cycle.group_id, o.cycle.group.name, o.cycle.period_start, o.cycle.period_end, o.due_at)
        for o in selectors.member_open_obligations(user=user, now=now)
    ]
    held = Exists(Hold.objects.filter(group=OuterRef("group"), lifted_at__isnull=True))
    groups = (
        Membership.objects.active()
        .filter(user=user, group__status=ChatGroup.Status.APPROVED)
        .filter(~held)
        .values_list("group_id", "group__name", "group__cycle_weekday", "group__cycle_time")
        .distinct()
    )
    coming = [
        deadline
        for group_id, name, weekday, at in groups
        for deadline in _coming(group_id=group_id, name=name, weekday=weekday, at=at, now=now)
    ]
    return sorted(owed + coming, key=lambda d: (d.due_at, d.group_name, d.group_id))


def _coming(*, group_id: int, name: str, weekday: int, at: dt.time, now: dt.datetime) -> Iterator[Deadline]:
    """The deadlines of the periods running now and after, on the group's schedule (R4):
    each period ends on the UK wall clock, and the grace is counted on it too."""
    end = periods.next_period_end(weekday=weekday, at=at, now=now)
    end_day = end.astimezone(periods.LONDON).date()
    for week in range(settings.CALENDAR_WEEKS_AHEAD):
        start = periods.local_to_utc(end_day + dt.timedelta(days=7 * (week - 1)), at)
        end = periods.local_to_utc(end_day + dt.timedelta(days=7 * week), at)
        yield Deadline(group_id, name, start, end, periods.add_local_hours(end, settings.CLEAR_DOWN_GRACE_HOURS))


# --- The feed --------------------------------------------------------------------------------


def calendar_ical(*, user: AbstractBaseUser, now: dt.datetime | None = None) -> bytes:
    """The person's feed as iCalendar (RFC 5545) bytes."""
    now = now or timezone.now()
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    home = f"{settings.SITE_URL}{reverse('home')}"
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//{settings.ORGANISATION_NAME}//Clear-down portal//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "WhatsApp clear-downs")
    cal.add("x-wr-timezone", "Europe/London")
    # Calendars poll a feed at their own pace; this asks for about twice a day.
    cal.add("refresh-interval", dt.timedelta(hours=12), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT12H")
    deadlines = member_deadlines(user=user, now=now)
    for d in deadlines:
        due = d.due_at.astimezone(periods.LONDON)
        dates = periods.period_label(d.period_start, d.period_end)
        event = icalendar.Event()
        # Stable across fetches and across the moment a coming week becomes an owed one.
        event.add("uid", f"clear-down-{d.group_id}-{d.period_end:%Y%m%dT%H%M%SZ}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", due - EVENT_LENGTH)
        event.add("dtend", due)
        event.add("summary", f"Confirm clear-down: {d.group_name}")
        event.add(
            "description",
            f"Clear the WhatsApp chat of {d.group_name} for {dates}, after saving anything the office needs "
            f"to a corporate system, then confirm by {due:%a %-d %b, %H:%M}: {home}\n"
            "iPhone: tap the group name > Clear Chat > Delete All Messages. "
            "Android: tap ⋮ (top right) > More > Clear chat.",
        )
        event.add("url", home)
        event.add("transp", "TRANSPARENT")
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -dt.timedelta(hours=settings.CALENDAR_ALARM_HOURS))
        alarm.add("description", f"Clear the {d.group_name} chat and confirm by {due:%a %H:%M}")
        event.add_component(alarm)
        cal.add_component(event)
    if deadlines:
        first = deadlines[0].due_at.astimezone(periods.LONDON).date() - dt.timedelta(days=1)
        last = deadlines[-1].due_at.astimezone(periods.LONDON).date() + dt.timedelta(days=1)
        cal.add_missing_timezones(first_date=first, last_date=last)
    return cal.to_ical()
