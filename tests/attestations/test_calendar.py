"""The calendar feed (issue 15): a secret per-person address, read back by a real iCal parser."""

import datetime as dt

import icalendar
import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attestations import calendar, services
from attestations.models import CalendarFeed
from attestations.periods import LONDON
from groups import services as group_services
from tests.attestations.conftest import utc
from tests.factories import ChatGroupFactory, HoldFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def feed_url(feed) -> str:
    return reverse("attestations:calendar_feed", args=[feed.token])


def events_of(client, feed) -> list:
    response = client.get(feed_url(feed))
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    parsed = icalendar.Calendar.from_ical(response.content)
    assert {tz["TZID"] for tz in parsed.walk("VTIMEZONE")} == {"Europe/London"}
    return parsed.walk("VEVENT")


def test_the_page_needs_sign_in(client):
    for name in ("attestations:calendar", "attestations:calendar_reset"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_member_makes_their_address_once(client, member, settings):
    settings.SITE_URL = "https://portal.example.org"
    client.force_login(member)
    assert "Make my calendar address" in client.get(reverse("attestations:calendar")).content.decode()
    client.post(reverse("attestations:calendar"))
    client.post(reverse("attestations:calendar"))  # twice: still one address
    feed = CalendarFeed.objects.get(user=member)
    html = client.get(reverse("attestations:calendar")).content.decode()
    assert f'value="https://portal.example.org{feed_url(feed)}"' in html
    assert f'href="webcal://portal.example.org{feed_url(feed)}"' in html
    assert len(feed.token) >= 40


def test_the_feed_has_each_deadline_with_an_alarm_the_day_before(client, obligation, member, settings):
    settings.CALENDAR_WEEKS_AHEAD = 3
    feed = calendar.calendar_feed_create(user=member)
    events = events_of(client, feed)
    # What is owed now (6–13 Nov, due Sun 15 Nov) and the next three weeks' deadlines.
    ends = [event.decoded("dtend") for event in events]
    assert [end.astimezone(LONDON).strftime("%a %-d %b %H:%M") for end in ends] == [
        "Sun 15 Nov 17:00",
        "Sun 22 Nov 17:00",
        "Sun 29 Nov 17:00",
        "Sun 6 Dec 17:00",
    ]
    first = events[0]
    assert str(first["summary"]) == "Confirm clear-down: Urgent Ops"
    assert "Fri 6 Nov to Fri 13 Nov 2026" in str(first["description"]) and "Android" in str(first["description"])
    [alarm] = first.walk("VALARM")
    assert alarm.decoded("trigger") == -dt.timedelta(hours=24)
    assert len({str(event["uid"]) for event in events}) == 4


def test_times_stay_on_the_uk_clock_across_the_autumn_change(client, group, member, at):
    at(utc(2026, 10, 14, 9))  # British Summer Time; the clocks go back on Sun 25 Oct
    feed = calendar.calendar_feed_create(user=member)
    ends = [event.decoded("dtend") for event in events_of(client, feed)][:3]
    assert [str(end.tzinfo) for end in ends] == ["Europe/London"] * 3
    assert [end.strftime("%a %-d %b %H:%M") for end in ends] == [
        "Sun 18 Oct 17:00",
        "Sun 25 Oct 17:00",
        "Sun 1 Nov 17:00",
    ]
    assert [end.astimezone(dt.UTC).hour for end in ends] == [16, 17, 17]


def test_times_stay_on_the_uk_clock_across_the_spring_change(client, group, member, at):
    at(utc(2026, 3, 18, 9))  # GMT; the clocks go forward on Sun 29 Mar
    feed = calendar.calendar_feed_create(user=member)
    ends = [event.decoded("dtend") for event in events_of(client, feed)][:3]
    assert [end.strftime("%a %-d %b %H:%M") for end in ends] == [
        "Sun 22 Mar 17:00",
        "Sun 29 Mar 17:00",
        "Sun 5 Apr 17:00",
    ]
    assert [end.astimezone(dt.UTC).hour for end in ends] == [17, 16, 16]
    ical = client.get(feed_url(feed)).content.decode()
    assert "DTEND;TZID=Europe/London:20260329T170000" in ical


def test_a_held_suspended_or_left_group_brings_no_new_deadlines(client, group, member, dpo, admin_user):
    held = ChatGroupFactory(name="Held One")
    MembershipFactory(group=held, user=member)
    HoldFactory(group=held, placed_by=dpo)
    stopped = ChatGroupFactory(name="Stopped One")
    MembershipFactory(group=stopped, user=member)
    group_services.chatgroup_transition(group=stopped, action="suspend", by=dpo, reason="Review")
    left = ChatGroupFactory(name="Left One")
    membership = MembershipFactory(group=left, user=member)
    group_services.membership_remove(membership=membership, by=left.admin)
    feed = calendar.calendar_feed_create(user=member)
    assert {str(event["summary"]) for event in events_of(client, feed)} == {"Confirm clear-down: Urgent Ops"}


def test_the_feed_reveals_nothing_without_the_right_token(client, member, obligation):
    feed = calendar.calendar_feed_create(user=member)
    for token in ("x" * 43, feed.token[:-1], feed.token.upper(), "not-a-token"):
        assert client.get(reverse("attestations:calendar_feed", args=[token])).status_code == 404
    assert client.get(f"/clear-downs/calendar/{feed.token}").status_code == 404
    assert Session.objects.count() == 0


def test_a_reset_kills_the_old_address_after_asking(client, member, obligation):
    feed = calendar.calendar_feed_create(user=member)
    old = feed_url(feed)
    client.force_login(member)
    html = client.get(reverse("attestations:calendar_reset")).content.decode()
    assert "stops working at once" in html
    assert client.get(old).status_code == 200  # asking changed nothing
    response = client.post(reverse("attestations:calendar_reset"), follow=True)
    assert "the old one no longer works" in response.content.decode()
    feed.refresh_from_db()
    assert client.get(old).status_code == 404
    assert client.get(feed_url(feed)).status_code == 200 and feed.reset_at is not None


def test_a_disabled_accounts_feed_is_gone(client, member):
    feed = calendar.calendar_feed_create(user=member)
    member.is_active = False
    member.save()
    assert client.get(feed_url(feed)).status_code == 404


def test_the_feed_costs_the_same_queries_for_3_or_30_groups(client, member, at, django_assert_num_queries):
    feed = calendar.calendar_feed_create(user=member)

    def add_groups(first: int, n: int) -> None:
        for i in range(first, first + n):
            MembershipFactory(group=ChatGroupFactory(name=f"Group {i}"), user=member)

    add_groups(0, 3)
    services.cycle_close_due(now=utc(2026, 11, 13, 17, 5))
    at(utc(2026, 11, 13, 17, 10))
    with CaptureQueriesContext(connection) as small:
        client.get(feed_url(feed))
    add_groups(3, 27)
    services.cycle_close_due(now=utc(2026, 11, 20, 17, 5))
    at(utc(2026, 11, 20, 17, 10))
    with django_assert_num_queries(len(small)):
        events = events_of(client, feed)
    assert len(events) > 30 * 8
