"""The people the portal should email and cannot: the DPO's warning on the dashboard."""

import pytest

from attestations import selectors
from tests import factories

pytestmark = pytest.mark.django_db


def test_when_everyone_has_an_address_one_probe_says_so(group, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = selectors.people_who_cannot_be_emailed()
    assert (found.people, found.total, found.more) == ([], 0, 0)


def test_only_people_the_schedule_writes_to_count(group):
    factories.UserFactory(username="gone", email="", is_active=False)  # closed account
    factories.UserFactory(username="bystander", email="")  # in no group, runs none, not the DPO
    assert selectors.people_who_cannot_be_emailed().total == 0

    member = factories.UserFactory(username="member-without", email="")
    factories.MembershipFactory(group=group, user=member)
    found = selectors.people_who_cannot_be_emailed()
    assert [p.username for p in found.people] == ["member-without"] and found.total == 1
    assert (found.people[0].is_member, found.people[0].runs_group, found.people[0].is_dpo) == (True, False, False)


def test_the_first_twenty_and_how_many_more(group):
    for i in range(22):
        person = factories.UserFactory(username=f"nomail{i:02}", first_name="No", last_name=f"Mail {i:02}", email="")
        factories.MembershipFactory(group=group, user=person)
    found = selectors.people_who_cannot_be_emailed()
    assert len(found.people) == 20 and found.total == 22 and found.more == 2
    assert found.people[0].username == "nomail00"
