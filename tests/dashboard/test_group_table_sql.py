"""The dashboard's group table, filtered, sorted and paged in SQL, gives the rows the table
built in Python gives (`group_table` + `filter_table`), page by page, and the headline the
same sums."""

import dataclasses
import datetime as dt
import itertools

import pytest
from django.urls import reverse

from attestations.dashboard import stats
from groups.models import ChatGroup
from tests import factories
from tests.dashboard.conftest import A0_DUE, A0_END, A1_DUE, A1_END, NOW, make_cycle

pytestmark = pytest.mark.django_db

ALL = stats.Scope()
DATES = stats.DateRange(first=dt.date(2026, 6, 1), last=dt.date(2026, 11, 17))


NAMES = ["alpha team", "Alpha-Team", "AlphaTeam", "Beta", "beta 2", "Beta_3", "Gamma-Ops", "Gamma Ops", "GammaOps",
         "Ω Omega", "Émile", "emile x", "zeta", "Zeta!"]  # fmt: skip


@pytest.fixture
def many(office, dpo):
    """The office, plus groups that tie on every other column: equal shares done, the same
    admin, no figures at all, some proposed; names that sort differently by character and
    by language rules (spaces, punctuation, case, accents)."""
    shared_admin = factories.UserFactory(username="zed", first_name="Zed", last_name="Same")
    people = [factories.UserFactory(first_name=f"P{i}", last_name="Member") for i in range(4)]
    for i in range(14):
        name = NAMES[i]
        status = ChatGroup.Status.PROPOSED if i % 5 == 4 else ChatGroup.Status.APPROVED
        group = factories.ChatGroupFactory(name=name, admin=shared_admin if i % 3 else people[i % 4], status=status)
        if status == ChatGroup.Status.PROPOSED:
            continue
        members = [group.admin, people[(i + 1) % 4]]
        factories.MembershipFactory(group=group, user=members[1])
        for k, (end, due) in enumerate(((A0_END, A0_DUE), (A1_END, A1_DUE))):
            if i % 6 == 5:
                break  # no cycles: nothing to sort on
            cycle = make_cycle(group, end, due)
            factories.obligation_in_state(cycle=cycle, user=members[0], state="on_time", attested_at=due)
            if (i + k) % 3:
                factories.obligation_in_state(cycle=cycle, user=members[1], state="pending")
                factories.FlagFactory(cycle=cycle, user=members[1], raised_at=due + dt.timedelta(minutes=15))
            else:
                factories.obligation_in_state(
                    cycle=cycle, user=members[1], state="late", attested_at=due + dt.timedelta(hours=1)
                )
            if k == 1 and i % 4 == 0:
                cycle.prompted_at, cycle.prompted_by = end + dt.timedelta(hours=i), group.admin
                cycle.save()
    return office


def _names(rows) -> list[str]:
    return [row.name for row in rows]


FILTERS = [
    {},
    {"status": ChatGroup.Status.PROPOSED},
    {"status": ChatGroup.Status.APPROVED},
    {"attention": True},
    {"held": True},
]


@pytest.mark.parametrize("sort", list(stats.SORTS))
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("filters", FILTERS)
def test_the_sql_table_sorts_and_filters_as_the_python_table(many, sort, descending, filters):
    python = stats.filter_table(
        stats.group_table(scope=ALL, dates=DATES, now=NOW), sort=sort, descending=descending, **filters
    )
    pages = []
    for number in itertools.count(1):
        page = stats.group_table_page(
            scope=ALL, dates=DATES, now=NOW, number=str(number), size=4, sort=sort, descending=descending, **filters
        )
        assert page.paginator.count == len(python)
        pages.append(page.object_list)
        if not page.has_next():
            break
    sql = [row for rows in pages for row in rows]
    assert _names(sql) == _names(python)
    # Every figure of every row, not only the order.
    assert [dataclasses.asdict(r) for r in sql] == [dataclasses.asdict(r) for r in python]


def test_a_page_past_the_last_shows_the_last_and_a_bad_number_the_first(many):
    last = stats.group_table_page(scope=ALL, dates=DATES, now=NOW, number="99", size=4)
    assert last.number == last.paginator.num_pages > 1 and last.object_list
    huge = stats.group_table_page(scope=ALL, dates=DATES, now=NOW, number="9" * 30, size=4)
    assert huge.number == last.number and huge.object_list == last.object_list
    for bad in ("x", "", None, "-3", "0"):
        assert stats.group_table_page(scope=ALL, dates=DATES, now=NOW, number=bad, size=4).number == 1


def test_the_headline_is_the_sums_of_the_whole_table(many):
    table = stats.group_table(scope=ALL, dates=DATES, now=NOW)
    assert stats.headline_of_table(scope=ALL, dates=DATES, now=NOW) == stats.headline(
        scope=ALL, dates=DATES, now=NOW, table=table
    )


@pytest.mark.parametrize("number", ["1", "2", "99"])
@pytest.mark.parametrize("sort", ["done", "name"])
def test_the_page_sums_every_row_for_the_headline_whatever_page(many, admin_user, number, sort):
    """Unfiltered, the page's window sums are the headline's sums (any page, any order, any
    scope), so the dashboard takes them from the page's own query."""
    for scope in (ALL, stats.Scope(user_id=admin_user.pk)):
        page = stats.group_table_page(
            scope=scope, dates=DATES, now=NOW, number=number, size=4, sort=sort, with_sums=True
        )
        expected = stats.headline(
            scope=scope, dates=DATES, now=NOW, table=stats.group_table(scope=scope, dates=DATES, now=NOW)
        )
        # Past the last page no row came back: the headline asks for its own sums.
        assert (page.sums is None) == (int(number) > page.number)
        assert stats.headline_of_table(scope=scope, dates=DATES, now=NOW, sums=page.sums) == expected
    assert stats.group_table_page(scope=ALL, dates=DATES, now=NOW).sums is None  # not asked for


def test_the_unfiltered_dashboard_takes_the_headline_from_the_table_query(
    client, dpo, many, django_assert_max_num_queries
):
    client.force_login(dpo)
    url = reverse("dashboard:index")
    client.get(url)
    with django_assert_max_num_queries(100) as plain:
        response = client.get(url)
    with django_assert_max_num_queries(100) as filtered:
        client.get(url, {"status": ChatGroup.Status.APPROVED})
    # The filtered table cannot give the headline (it sums every group): one query more.
    assert len(filtered) == len(plain) + 1
    python = stats.group_table(scope=ALL, dates=stats.DateRange.default(), now=NOW)
    assert response.context["headline"] == stats.headline(
        scope=ALL, dates=stats.DateRange.default(), now=NOW, table=python
    )


def test_a_group_admin_sees_only_the_rows_of_their_groups(many, admin_user):
    mine = stats.Scope(user_id=admin_user.pk)
    page = stats.group_table_page(scope=mine, dates=DATES, now=NOW)
    assert _names(page.object_list) == _names(stats.group_table(scope=mine, dates=DATES, now=NOW))


def test_the_dashboard_pages_the_sorted_table(client, dpo, many):
    client.force_login(dpo)
    response = client.get(reverse("dashboard:index"), {"sort": "name", "dir": "desc", "page": "1"})
    page = response.context["page"]
    python = stats.filter_table(
        stats.group_table(scope=ALL, dates=stats.DateRange.default(), now=NOW), sort="name", descending=True
    )
    assert _names(page.object_list) == _names(python)[: len(page.object_list)]
    assert f"{len(python)} groups." in response.content.decode()


def test_a_group_whose_schedule_changed_shows_its_later_cycle(office):
    """Two cycles of one group ended in the week up to the range's end (its day moved from
    Wednesday to Friday): its row shows the later one's counts, once, in SQL as in Python."""
    member = factories.UserFactory(first_name="Res", last_name="Member")
    group = factories.ChatGroupFactory(name="Rescheduled")
    factories.MembershipFactory(group=group, user=member)
    wednesday, friday = A1_END - dt.timedelta(days=2), A1_END
    earlier = make_cycle(group, wednesday, wednesday + dt.timedelta(days=2))
    later = make_cycle(group, friday, A1_DUE, period_start=wednesday)
    for user in (group.admin, member):
        factories.obligation_in_state(cycle=earlier, user=user, state="on_time", attested_at=wednesday)
    factories.obligation_in_state(cycle=later, user=group.admin, state="on_time", attested_at=friday)
    factories.obligation_in_state(cycle=later, user=member, state="pending")

    python = stats.group_table(scope=ALL, dates=DATES, now=NOW)
    sql = stats.group_table_page(scope=ALL, dates=DATES, now=NOW, size=100, with_sums=True)
    assert [dataclasses.asdict(r) for r in sql.object_list] == [
        dataclasses.asdict(r) for r in stats.filter_table(python, sort="done")
    ]
    row = next(r for r in sql.object_list if r.name == "Rescheduled")
    assert row.latest_id == later.pk and (row.latest.done, row.latest.owed) == (1, 2)
    assert stats.headline_of_table(scope=ALL, dates=DATES, now=NOW, sums=sql.sums) == stats.headline(
        scope=ALL, dates=DATES, now=NOW, table=python
    )
