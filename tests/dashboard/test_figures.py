"""Dashboard figures against a hand-computed office (see conftest.py)."""

import datetime as dt

import pytest

from attestations.dashboard import stats
from bench.headline import headline_by_hand
from tests import factories
from tests.dashboard.conftest import B1_DUE, NOW, make_cycle, utc

pytestmark = pytest.mark.django_db

ALL = stats.Scope()


@pytest.fixture(params=["direct", "from the table"])
def headline(request):
    """The headline both ways: by its own aggregates, and as sums over the dashboard's table."""

    def compute(*, scope, dates, now):
        table = None if request.param == "direct" else stats.group_table(scope=scope, dates=dates, now=now)
        return stats.headline(scope=scope, dates=dates, now=now, table=table)

    return compute


def dates(first="2026-05-25", last="2026-11-17"):
    return stats.DateRange(first=dt.date.fromisoformat(first), last=dt.date.fromisoformat(last))


def test_it_computes_the_headline_figures(office, settings, headline):
    h = headline(scope=ALL, dates=dates(), now=NOW)
    assert (h.approved, h.proposed, h.suspended, h.retired, h.cap) == (3, 1, 0, 0, settings.MAX_APPROVED_GROUPS)
    assert h.active_holds == 1
    # A: admin, member, Pat, Ezra; B: Bea, Quinn; C: Cy, Rae. The proposal's admin is not counted.
    assert h.members == 8
    t = h.latest
    assert (t.on_time, t.late, t.outstanding, t.overdue, t.excused, t.held) == (2, 1, 1, 1, 1, 2)
    assert (t.owed, t.done, t.pct_done, t.pct_on_time) == (5, 3, 60.0, 40.0)
    assert (h.open_flags, h.open_overdue_flags, h.open_prompt_flags, h.prompts_missed) == (1, 1, 0, 1)


def test_it_agrees_with_the_hand_written_sql(office, headline):
    from django.db import connection

    h = headline(scope=ALL, dates=dates(), now=NOW)
    assert headline_by_hand(dates=dates(), now=NOW, connection=connection) == h.as_tuple()


def test_it_counts_pending_as_outstanding_up_to_the_deadline_and_overdue_after(office, clock):
    def bea_bucket(now):
        rows = stats.obligation_rows(scope=ALL, dates=dates(), now=now, latest=True, group_id=office.b.pk)
        return {o.user_id: stats.mark_bucket(o, now=now).bucket for o in rows}[office.bea.pk]

    assert bea_bucket(B1_DUE - dt.timedelta(microseconds=1)) == "outstanding"
    assert bea_bucket(B1_DUE) == "outstanding"  # the same test as the overdue sweep: due_at < now
    assert bea_bucket(B1_DUE + dt.timedelta(microseconds=1)) == "overdue"


def test_it_counts_an_attestation_at_the_deadline_as_on_time_and_a_second_later_as_late(office):
    rows = stats.obligation_rows(scope=ALL, dates=dates(), now=NOW, latest=True, group_id=office.a.pk)
    buckets = {o.user.username: stats.mark_bucket(o, now=NOW).bucket for o in rows}
    assert buckets == {"groupadmin": "on_time", "member": "late", "pat": "overdue", "ezra": "excused"}


def test_it_leaves_excused_and_held_out_of_what_is_owed(office):
    table = {row.name: row for row in stats.group_table(scope=ALL, dates=dates(), now=NOW)}
    assert (table["Urgent Ops"].latest.owed, table["Urgent Ops"].latest.pct_done) == (3, 66.7)
    assert table["Estates Project"].latest.held == 2
    assert table["Estates Project"].latest.pct_done is None  # nothing owed: no percentage, not 0 %
    assert table["Estates Project"].on_hold


def test_it_buckets_the_trend_by_the_week_of_the_deadline(office):
    weeks = {w.monday: w.tally for w in stats.trend(scope=ALL, dates=dates(), now=NOW)}
    assert len(weeks) == 26
    nov2, nov9, nov16 = weeks[dt.date(2026, 11, 2)], weeks[dt.date(2026, 11, 9)], weeks[dt.date(2026, 11, 16)]
    assert (nov2.on_time, nov2.pct_on_time) == (2, 100.0)
    assert (nov9.on_time, nov9.late, nov9.overdue, nov9.excused, nov9.held) == (1, 1, 1, 1, 2)
    assert (nov9.pct_on_time, nov9.pct_late, nov9.pct_overdue) == (33.3, 33.3, 33.3)
    assert (nov16.on_time, nov16.outstanding, nov16.pct_on_time, nov16.pct_overdue) == (1, 1, 50.0, 0.0)
    assert all(t.total == 0 for monday, t in weeks.items() if monday < dt.date(2026, 11, 2))


def test_it_starts_each_week_of_the_trend_at_midnight_on_monday_uk_time(db):
    """The boundary is Monday 00:00 in London, in summer (23:00 UTC the Sunday before) and in
    winter, and this week's deadlines are told apart by the second: passed or still ahead."""
    person = factories.UserFactory()
    group = factories.ChatGroupFactory()
    deadlines = {
        utc(2026, 10, 11, 22, 59, 59): dt.date(2026, 10, 5),  # Sun 23:59:59 BST
        utc(2026, 10, 11, 23): dt.date(2026, 10, 12),  # Mon 00:00 BST
        utc(2026, 10, 25, 23, 59, 59): dt.date(2026, 10, 19),  # Sun 23:59:59 GMT, the clocks just gone back
        utc(2026, 10, 26): dt.date(2026, 10, 26),  # Mon 00:00 GMT
        NOW - dt.timedelta(seconds=1): dt.date(2026, 11, 16),  # passed: overdue
        NOW: dt.date(2026, 11, 16),  # not passed yet: outstanding, as the sweep judges it
    }
    for due in deadlines:
        cycle = make_cycle(group, due - dt.timedelta(days=2), due)
        factories.obligation_in_state(cycle=cycle, user=person, state="pending")

    weeks = {w.monday: w.tally for w in stats.trend(scope=ALL, dates=dates(first="2026-10-05"), now=NOW)}

    owed = {monday: t.owed for monday, t in weeks.items() if t.owed}
    assert owed == {
        dt.date(2026, 10, 5): 1, dt.date(2026, 10, 12): 1, dt.date(2026, 10, 19): 1, dt.date(2026, 10, 26): 1,
        dt.date(2026, 11, 16): 2,
    }  # fmt: skip
    assert (weeks[dt.date(2026, 11, 16)].overdue, weeks[dt.date(2026, 11, 16)].outstanding) == (1, 1)
    assert weeks[dt.date(2026, 10, 26)].overdue == 1


def test_a_trend_of_one_week_has_that_week_s_figures(office):
    weeks = stats.trend(scope=ALL, dates=dates(first="2026-11-16", last="2026-11-17"), now=NOW)
    assert [w.monday for w in weeks] == [dt.date(2026, 11, 16)]
    assert (weeks[0].tally.on_time, weeks[0].tally.outstanding) == (1, 1)


def test_it_takes_this_cycle_and_the_trend_up_to_the_end_of_the_range(office, headline):
    earlier = dates(last="2026-11-12")
    h = headline(scope=ALL, dates=earlier, now=NOW)
    # Only A0 ended in the week before 13 Nov: two on time.
    assert (h.latest.on_time, h.latest.total) == (2, 2)
    weeks = {w.monday: w.tally for w in stats.trend(scope=ALL, dates=earlier, now=NOW)}
    # The week of 9 Nov is shown whole: A1's deadline (Sun 15 Nov) is in it.
    assert weeks[dt.date(2026, 11, 9)].on_time == 1 and dt.date(2026, 11, 16) not in weeks
    assert h.prompts_missed == 1


def test_it_flags_groups_that_need_attention_and_sorts_worst_first(office):
    table = stats.group_table(scope=ALL, dates=dates(), now=NOW)
    rows = stats.filter_table(table)
    # Comms On-Call 1 of 2 done (50 %), Urgent Ops 2 of 3 (67 %); nothing owed last.
    assert [r.name for r in rows] == ["Comms On-Call", "Urgent Ops", "Estates Project", "New Idea"]
    assert [r.name for r in stats.filter_table(table, attention=True)] == ["Urgent Ops"]
    assert [r.name for r in stats.filter_table(table, held=True)] == ["Estates Project"]
    assert [r.name for r in stats.filter_table(table, status="proposed")] == ["New Idea"]
    by_name = [r.name for r in stats.filter_table(table, sort="name", descending=True)]
    assert by_name == ["Urgent Ops", "New Idea", "Estates Project", "Comms On-Call"]
    assert [r.name for r in stats.filter_table(table, sort="done", descending=True)][:2] == [
        "Urgent Ops",
        "Comms On-Call",
    ]


def test_it_builds_the_strip_of_recent_cycles_oldest_first(office):
    strips = stats.group_strips(group_ids=[office.a.pk, office.c.pk, office.d.pk], dates=dates(), now=NOW)
    a0, a1 = strips[office.a.pk]
    assert (a0.level, a0.tally.pct_done) == ("good", 100.0)
    assert a1.level == "poor" and "2 of 3 done, 1 late, 1 overdue" in a1.text
    [c1] = strips[office.c.pk]
    assert c1.level == "held" and c1.text.endswith("on hold")
    assert strips[office.d.pk] == []


def test_it_drills_into_a_group_with_each_members_record(office):
    drill = stats.group_drilldown(group=office.a, dates=dates(), now=NOW)
    assert [c.cycle_id for c in drill.cycles] == [office.a1.pk, office.a0.pk]
    people = {p["user"].username: p for p in drill.people}
    assert drill.people[0]["user"].username == "pat"  # most overdue first
    assert people["pat"]["cells"] == [None, "overdue"]
    assert people["member"]["cells"] == ["on_time", "late"]
    assert [f.user.username for f in drill.flags] == ["pat", "groupadmin"]  # open first


def test_it_gives_a_persons_record_across_groups(office, member):
    record = stats.person_record(person=member, scope=ALL, dates=dates(), now=NOW)
    assert (record.tally.on_time, record.tally.late) == (1, 1)
    assert [o.bucket for o in record.obligations] == ["late", "on_time"]


def test_it_limits_a_group_admin_to_the_groups_they_run(office, admin_user, headline):
    mine = stats.Scope(user_id=admin_user.pk)
    h = headline(scope=mine, dates=dates(), now=NOW)
    assert (h.approved, h.members, h.latest.total, h.open_flags) == (1, 4, 4, 1)
    assert [r.name for r in stats.group_table(scope=mine, dates=dates(), now=NOW)] == ["Urgent Ops"]
    assert stats.person_in_scope(scope=mine, pk=office.quinn.pk) is None
    weeks = {w.monday: w.tally for w in stats.trend(scope=mine, dates=dates(), now=NOW)}
    assert weeks[dt.date(2026, 11, 16)].total == 0  # Comms On-Call is not theirs
