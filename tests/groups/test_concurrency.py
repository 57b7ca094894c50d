"""Races on the register, run on the real PostgreSQL (CI): the cap and duplicate adds hold."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from groups import services
from groups.models import ChatGroup, Membership
from tests.conftest import run_at_once, service_missing
from tests.factories import ChatGroupFactory, UserFactory, dpo_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL for concurrent transactions (set DATABASE_URL)")


def test_it_never_approves_past_the_cap_under_concurrent_approvals(settings):
    settings.MAX_APPROVED_GROUPS = 1
    dpo = dpo_user(username="dpo")
    first, second = ChatGroupFactory(status="proposed"), ChatGroupFactory(status="proposed")
    outcomes = run_at_once(
        lambda: services.chatgroup_transition(group=first, action="approve", by=dpo, reason="a"),
        lambda: services.chatgroup_transition(group=second, action="approve", by=dpo, reason="b"),
    )
    assert outcomes.count("ok") == 1
    assert ChatGroup.objects.approved().count() == 1


def test_two_admins_adding_the_same_person_at_once_make_one_membership():
    group = ChatGroupFactory()
    deputy = UserFactory()
    Membership.objects.create(group=group, user=deputy, joined_at=group.created_at)
    group.deputy = deputy
    group.save()
    person = UserFactory()
    outcomes = run_at_once(
        lambda: services.membership_add(group=group, user=person, by=group.admin),
        lambda: services.membership_add(group=group, user=person, by=deputy),
    )
    assert outcomes.count("ok") == 1
    assert "already a member" in str([o for o in outcomes if o != "ok"][0])
    assert Membership.objects.filter(group=group, user=person).count() == 1


def test_two_renames_to_the_same_name_at_once_make_one_and_a_field_error_for_the_other():
    first, second = ChatGroupFactory(status="proposed"), ChatGroupFactory(status="proposed")

    def rename(group):
        return lambda: services.chatgroup_update(
            group=group, by=group.admin, name="Same Name", purpose="p", cycle_weekday=1, cycle_time=group.cycle_time
        )

    outcomes = run_at_once(rename(first), rename(second))
    assert outcomes.count("ok") == 1
    refused = next(o for o in outcomes if o != "ok")
    assert isinstance(refused, ValidationError) and "already on the register" in str(refused.message_dict["name"])
    assert ChatGroup.objects.filter(name="Same Name").count() == 1
