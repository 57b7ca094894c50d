"""FOI "what may still exist" (issue 18): whose phone may hold a request's dates, the hold
placed from the same page, and the record of the request (CSV and printable page)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import pytest
from django.test import Client
from django.urls import reverse

from attestations import hold_notices
from attestations.audit import foi
from attestations.models import ExportLog, Hold, HoldNotice, Obligation
from groups.models import ChatGroup
from tests import factories

pytestmark = pytest.mark.django_db

# Friday 20 November 2026, noon: the group's weeks end on Fridays at 17:00.
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
START, END = dt.date(2026, 11, 2), dt.date(2026, 11, 8)
S = Obligation.Status


def at(day: int, month: int = 11, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def week(group, end_day: int):
    end = dt.datetime(2026, 11, end_day, 17, tzinfo=dt.UTC)
    return factories.CycleFactory(group=group, period_end=end)


def owe(cycle, user, status=S.PENDING, cleared_on=None):
    fields = {"cycle": cycle, "user": user, "due_at": cycle.due_at, "status": status}
    if status in (S.ATTESTED, S.LATE):
        attested_at = dt.datetime.combine(cleared_on, dt.time(18), dt.UTC)
        if attested_at > cycle.due_at:
            fields["status"] = S.LATE
        fields.update(
            cleared_on=cleared_on,
            attested_at=attested_at,
            confirmed_cleared=True,
            confirmed_saved=True,
            channel=Obligation.Channel.WEB,
        )
    elif status == S.EXCUSED:
        fields.update(excused_by=cycle.group.admin, excused_at=cycle.period_end, excuse_reason="Annual leave")
    return factories.ObligationFactory(**fields)


@pytest.fixture
def world(clock):
    """A group with someone in each situation, and weeks ending 6 and 13 November."""
    admin = factories.UserFactory(username="grace", first_name="Grace", last_name="Adeyemi")
    group = factories.ChatGroupFactory(name="Urgent Ops", admin=admin)
    people = {"admin": admin}
    for key, first, joined, left in [
        ("cleo", "Cleo", at(1, 10), None),  # cleared after the dates
        ("pat", "Pat", at(1, 10), None),  # cleared inside the dates only
        ("penny", "Penny", at(1, 10), None),  # never cleared
        ("eve", "Eve", at(1, 10), None),  # excused both weeks
        ("leo", "Leo", at(1, 10), at(10)),  # left the group, never cleared
        ("jo", "Jo", at(12), None),  # joined after the dates
        ("old", "Old", at(1, 9), at(20, 10)),  # left before the dates: not asked
    ]:
        person = factories.UserFactory(username=key, first_name=first, last_name="Test")
        factories.MembershipFactory(group=group, user=person, joined_at=joined, left_at=left)
        people[key] = person
    closed = factories.UserFactory(username="cal", first_name="Cal", last_name="Test", is_active=False)
    factories.MembershipFactory(group=group, user=closed, joined_at=at(1, 10), left_at=at(12))
    people["cal"] = closed
    w1, w2 = week(group, 6), week(group, 13)
    owe(w1, admin, S.ATTESTED, dt.date(2026, 11, 6))
    owe(w2, admin, S.LATE, dt.date(2026, 11, 16))
    owe(w1, people["cleo"], S.ATTESTED, dt.date(2026, 11, 7))
    owe(w2, people["cleo"], S.ATTESTED, dt.date(2026, 11, 9))
    owe(w1, people["pat"], S.ATTESTED, dt.date(2026, 11, 7))
    owe(w2, people["pat"])
    owe(w1, people["penny"])
    owe(w2, people["penny"])
    owe(w1, people["eve"], S.EXCUSED)
    owe(w2, people["eve"], S.EXCUSED)
    owe(w1, people["leo"])
    owe(w1, closed, S.LEFT)
    # Someone of another group: never in this answer.
    factories.MembershipFactory(group=factories.ChatGroupFactory(name="Other"), user=factories.UserFactory())
    return group, people


def standings(answer) -> dict[str, str]:
    return {line.user.username: line.standing for line in answer.lines}


def test_it_sorts_each_member_by_what_may_still_be_on_their_phone(world):
    group, people = world
    answer = foi.what_may_exist(group_id=group.pk, start=START, end=END)
    assert standings(answer) == {
        "penny": foi.NOT_CLEARED,
        "pat": foi.NOT_CLEARED,
        "eve": foi.EXCUSED,
        "cal": foi.LEFT,
        "leo": foi.LEFT,
        "cleo": foi.CLEARED,
        "grace": foi.CLEARED,
        "jo": foi.JOINED_AFTER,
    }
    # The table lists those the hold must reach first.
    assert [line.user.username for line in answer.lines] == ["pat", "penny", "eve", "cal", "leo", "cleo", "grace", "jo"]
    lines = {line.user.username: line for line in answer.lines}
    # The first clear after the dates is when they went (Cleo cleared on the 7th and the 9th).
    assert lines["cleo"].covering_clear == dt.date(2026, 11, 9)
    assert lines["cleo"].remains == "Nothing: cleared the chat on 9 Nov 2026"
    assert lines["grace"].covering_clear == dt.date(2026, 11, 16)
    # A clear inside the dates vouches only for the days before it.
    assert lines["pat"].partial_clear == dt.date(2026, 11, 7) and lines["pat"].covering_clear is None
    assert lines["pat"].remains == "Messages from 7 Nov 2026 to 8 Nov 2026 (cleared on 7 Nov 2026)"
    assert lines["penny"].remains == "All messages of these dates"
    assert lines["penny"].weeks == {S.PENDING: 2}
    assert lines["eve"].weeks == {S.EXCUSED: 2}
    assert lines["leo"].left_at == at(10) and "left the group 10 Nov 2026" in lines["leo"].membership_text
    assert lines["leo"].reaches == "No: not a member now; contact them directly"
    assert "account closed" in lines["cal"].membership_text
    assert lines["penny"].reaches == "Yes, when the hold is placed: emailed a notice at once"
    assert lines["jo"].remains == "Nothing: joined after these dates"
    assert answer.hold is None and answer.to_reach == 3
    assert answer.counts == {"not_cleared": 2, "excused": 1, "left": 2, "cleared": 2, "joined_after": 1}


def test_a_clear_on_the_last_day_does_not_cover_it(world):
    group, people = world
    # Cleo's clear of the 7th is inside a range ending on the 7th: the 7th itself may remain.
    answer = foi.what_may_exist(group_id=group.pk, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 7))
    cleo = next(line for line in answer.lines if line.user.username == "cleo")
    assert cleo.covering_clear == dt.date(2026, 11, 9) and cleo.standing == foi.CLEARED
    answer = foi.what_may_exist(group_id=group.pk, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 9))
    cleo = next(line for line in answer.lines if line.user.username == "cleo")
    assert cleo.covering_clear is None and cleo.partial_clear == dt.date(2026, 11, 9)
    assert cleo.standing == foi.NOT_CLEARED


def test_days_of_a_week_not_yet_closed_or_due_are_owed_by_nobody_yet(world):
    group, people = world
    # 14 to 19 November: the week to 20 November has not closed.
    answer = foi.what_may_exist(group_id=group.pk, start=dt.date(2026, 11, 14), end=dt.date(2026, 11, 19))
    assert answer.open_after == dt.datetime(2026, 11, 13, 17, tzinfo=dt.UTC)
    assert standings(answer)["penny"] == foi.NOT_CLEARED
    # A week closed but not yet due: its deadline is shown.
    w3 = factories.CycleFactory(group=group, period_end=dt.datetime(2026, 11, 20, 11, tzinfo=dt.UTC))
    owe(w3, people["penny"])
    answer = foi.what_may_exist(group_id=group.pk, start=dt.date(2026, 11, 14), end=dt.date(2026, 11, 19))
    penny = next(line for line in answer.lines if line.user.username == "penny")
    assert answer.open_after is None
    assert penny.weeks_text == "owed 1; next deadline 22 Nov 2026 11:00"


def test_a_standing_hold_and_its_notices_are_shown(world):
    group, people = world
    dpo = factories.dpo_user(username="dana")
    hold = hold_notices.hold_place(group=group, by=dpo, reference="FOI-7", reason="Request", queue=False)
    answer = foi.what_may_exist(group_id=group.pk, start=START, end=END)
    assert answer.hold == hold
    lines = {line.user.username: line for line in answer.lines}
    assert lines["penny"].reaches == "Told 20 Nov 2026, not yet acknowledged"
    HoldNotice.objects.filter(hold=hold, user=people["eve"]).update(acknowledged_at=NOW, channel="web")
    answer = foi.what_may_exist(group_id=group.pk, start=START, end=END)
    eve = next(line for line in answer.lines if line.user.username == "eve")
    assert eve.reaches == "Told 20 Nov 2026, acknowledged 20 Nov 2026"
    # Held weeks count as held, and the hold does not pretend the chat was cleared.
    assert eve.standing == foi.EXCUSED and lines["penny"].weeks == {S.HELD: 2}


def test_the_query_count_does_not_grow_with_the_group(world, django_assert_num_queries):
    group, people = world
    with django_assert_num_queries(6):
        foi.what_may_exist(group_id=group.pk, start=START, end=END)
    w1 = group.cycles.order_by("period_end").first()
    for i in range(30):
        person = factories.UserFactory(username=f"extra{i}")
        factories.MembershipFactory(group=group, user=person, joined_at=at(1, 10))
        owe(w1, person, S.ATTESTED, dt.date(2026, 11, 10))
    factories.HoldFactory(group=group, placed_by=people["admin"])
    with django_assert_num_queries(7):  # one more: the standing hold's notices
        answer = foi.what_may_exist(group_id=group.pk, start=START, end=END)
    assert len(answer.lines) == 38


# --- The page, the hold, the record ---------------------------------------------------------


def pack_url(group, start=START, end=END) -> str:
    return f"{reverse('audit:foi_pack')}?group={group.pk}&from={start}&to={end}"


def test_the_foi_pack_shows_the_answer_and_the_hold_form_to_the_dpo(client, world):
    group, people = world
    client.force_login(factories.dpo_user(username="dana"))
    html = client.get(pack_url(group)).content.decode()
    assert "What may still exist of these dates" in html
    assert "Not yet cleared: the hold must reach them now: <strong>2</strong>" in html
    assert "Messages from 7 Nov 2026 to 8 Nov 2026" in html
    assert "No hold stands on this group" in html
    assert 'action="/audit/foi/hold/"' in html and "Place the hold" in html
    assert "FOI request for the messages of 2 November 2026 to 8 November 2026." in html


def test_an_auditor_reads_the_answer_but_is_not_offered_the_hold(client, world, auditor):
    group, people = world
    client.force_login(auditor)
    html = client.get(pack_url(group)).content.decode()
    assert "Messages from 7 Nov 2026 to 8 Nov 2026" in html and "Place the hold" not in html
    response = client.post(reverse("audit:foi_hold"), {"group": group.pk, "reference": "X", "reason": "Y"})
    assert response.status_code == 403 and not Hold.objects.exists()


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2026-11-08", "2026-11-02", "“From” must be on or before “To”."),
        ("2026-11-02", "2026-11-21", "“To” cannot be after today (20 November 2026)"),
        ("2010-11-02", "2026-11-08", "The dates span more than ten years"),
    ],
)
def test_dates_that_cannot_be_right_are_refused_with_a_reason(client, world, dpo, start, end, error):
    group, people = world
    client.force_login(dpo)
    html = client.get(f"{reverse('audit:foi_pack')}?group={group.pk}&from={start}&to={end}").content.decode()
    assert error in html and "Who may still hold" not in html


def test_without_dates_the_pack_asks_for_them(client, world, dpo):
    group, people = world
    client.force_login(dpo)
    html = client.get(f"{reverse('audit:foi_pack')}?group={group.pk}").content.decode()
    assert "give both dates" in html and "Who may still hold" not in html


def test_the_dpo_places_the_hold_from_the_page(client, world, dpo):
    group, people = world
    client.force_login(dpo)
    response = client.post(
        reverse("audit:foi_hold"),
        {"group": group.pk, "start": START, "end": END, "reference": "FOI-2026-0099", "reason": "FOI request"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == pack_url(group) + "#what-may-exist"
    hold = Hold.objects.get(group=group)
    assert hold.reference == "FOI-2026-0099" and hold.placed_by == dpo
    html = response.content.decode()
    assert "Urgent Ops is on hold (FOI-2026-0099)" in html
    assert "A hold already covers this group: <strong>FOI-2026-0099</strong>" in html
    assert "Place the hold" not in html
    # Every current member was told: the hold's notices (the service's, not a copy).
    assert set(HoldNotice.objects.filter(hold=hold).values_list("user__username", flat=True)) == {
        "grace", "cleo", "pat", "penny", "eve", "jo",
    }  # fmt: skip


def test_a_hold_refused_by_the_service_says_why_and_places_nothing(client, world, dpo):
    group, people = world
    client.force_login(dpo)
    response = client.post(reverse("audit:foi_hold"), {"group": group.pk, "reference": " ", "reason": "FOI"})
    assert response.status_code == 200 and not Hold.objects.exists()
    html = response.content.decode()
    assert "There is a problem" in html and "The hold was not placed" in html
    factories.HoldFactory(group=group, reference="FOI-1", placed_by=dpo)
    response = client.post(reverse("audit:foi_hold"), {"group": group.pk, "reference": "FOI-2", "reason": "FOI"})
    assert "Urgent Ops is already on hold (FOI-1)." in response.content.decode()
    assert Hold.objects.count() == 1


def test_placing_a_hold_needs_the_csrf_token(world, dpo):
    group, people = world
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(dpo)
    response = strict.post(reverse("audit:foi_hold"), {"group": group.pk, "reference": "FOI-3", "reason": "FOI"})
    assert response.status_code == 403 and not Hold.objects.exists()


def record_query(group, **extra) -> dict:
    return {
        "group": group.pk, "from": START, "to": END, "reference": "=HYPERLINK(\"x\")",
        "received": "2026-11-19", "received_by": "Dana Price", **extra,
    }  # fmt: skip


def test_the_csv_is_the_record_of_the_request_and_is_logged(client, world, dpo):
    group, people = world
    client.force_login(dpo)
    response = client.get(reverse("audit:foi_exist_csv"), record_query(group))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["username"] for r in rows] == ["pat", "penny", "eve", "cal", "leo", "cleo", "grace", "jo"]
    first = rows[0]
    assert first["request_reference"] == '\'=HYPERLINK("x")'  # neutralised
    assert (first["received_on"], first["received_by"], first["group"]) == ("2026-11-19", "Dana Price", "Urgent Ops")
    assert (first["from"], first["to"], first["standing_hold"]) == ("2026-11-02", "2026-11-08", "none")
    assert first["what_may_remain"] == "Messages from 7 Nov 2026 to 8 Nov 2026 (cleared on 7 Nov 2026)"
    assert first["cleared_on"] == "2026-11-07" and first["made_at"] == "2026-11-20T12:00:00+00:00"
    log = ExportLog.objects.get(pk=response["X-Export-Log"])
    assert (log.kind, log.format, log.user, log.rows) == ("foi-what-may-exist", "csv", dpo, 8)
    assert log.sha256 == hashlib.sha256(body).hexdigest()
    assert log.filters["reference"] == '=HYPERLINK("x")' and log.filters["received"] == "2026-11-19"
    assert log.filters["group"] == group.pk and log.filters["from"] == "2026-11-02"


def test_a_record_without_the_requests_details_is_refused_before_anything_is_logged(client, world, dpo):
    group, people = world
    client.force_login(dpo)
    response = client.get(reverse("audit:foi_exist_csv"), record_query(group, reference="", received="2026-11-21"))
    assert response.status_code == 400
    text = response.content.decode()
    assert "Request reference: This field is required." in text and "cannot be after today" in text
    assert not ExportLog.objects.exists()


def test_the_printable_record_names_the_request_and_who_made_it(client, world, auditor):
    group, people = world
    client.force_login(auditor)
    html = client.get(reverse("audit:foi_exist_record"), record_query(group)).content.decode()
    assert "What may still exist of “Urgent Ops”, 2 November 2026 to 8 November 2026" in html
    assert "=HYPERLINK" in html and "19 November 2026" in html and "Dana Price" in html
    assert "by Amir Khan" in html and "Messages from 7 Nov 2026 to 8 Nov 2026" in html
    html = client.get(reverse("audit:foi_exist_record"), {"group": group.pk}).content.decode()
    assert "There is a problem" in html and "Back to the FOI evidence pack" in html


def test_a_retired_group_says_its_phones_may_still_hold_the_chat(client, world, dpo):
    group, people = world
    ChatGroup.objects.filter(pk=group.pk).update(status=ChatGroup.Status.RETIRED, status_changed_at=at(15))
    client.force_login(dpo)
    html = client.get(pack_url(group)).content.decode()
    assert "is retired since 15 November 2026: no new weeks start" in html
