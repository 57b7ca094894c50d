"""The dashboard's query count does not grow with the number of groups, people or cycles."""

import datetime as dt

import pytest
from django.urls import reverse

from tests import factories
from tests.dashboard.conftest import A0_DUE, A0_END, A1_DUE, A1_END, make_cycle

pytestmark = pytest.mark.django_db

# session, user, two of permissions; the page of the group table (with how many rows and, in
# the same query, the headline's sums over every group), members, strips of the page, trend, emails failed in the
# last 30 days, people who cannot be emailed, the viewer's own open clear-downs (R12); the open
# review and hold-timer flags (R16, R17). No save of the session: it was renewed at sign-in,
# less than SESSION_REFRESH_SECONDS before.
DASHBOARD_QUERIES = 12


def add_groups(n: int) -> list:
    groups = []
    for i in range(n):
        group = factories.ChatGroupFactory(name=f"Group {i:03d}")
        people = [group.admin, factories.UserFactory()]
        factories.MembershipFactory(group=group, user=people[1])
        for end, due in ((A0_END, A0_DUE), (A1_END, A1_DUE)):
            cycle = make_cycle(group, end, due)
            factories.obligation_in_state(cycle=cycle, user=people[0], state="on_time", attested_at=due)
            factories.obligation_in_state(cycle=cycle, user=people[1], state="pending")
            factories.FlagFactory(cycle=cycle, user=people[1], raised_at=due + dt.timedelta(minutes=15))
        groups.append(group)
    return groups


@pytest.mark.parametrize("n", [10, 100])
def test_it_renders_the_dashboard_in_the_same_number_of_queries(client, dpo, n, django_assert_num_queries):
    add_groups(n)
    client.force_login(dpo)
    client.get(reverse("dashboard:index"))
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(reverse("dashboard:index") + "?sort=flags&dir=desc")
    assert response.status_code == 200
    assert f"{n} groups." in response.content.decode()


@pytest.mark.parametrize("n", [10, 100])
def test_it_renders_drill_downs_and_lists_in_the_same_number_of_queries(client, dpo, n):
    groups = add_groups(n)
    client.force_login(dpo)
    person = groups[0].admin
    urls = {
        reverse("dashboard:group", args=[groups[0].pk]): 11,  # 10 + the emails sent
        reverse("dashboard:person", args=[person.pk]): 8,
        reverse("dashboard:obligations") + "?latest=1&bucket=overdue": 6,
        reverse("dashboard:flags"): 6,
        reverse("dashboard:people"): 6,
    }
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for url in urls:
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[url] = len(queries)
    assert counts == urls
