"""Who hands over the admin role and names the deputy: the admin or the DPO, never the deputy,
and never to a disabled account."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from groups import services
from groups.models import ChatGroup, Membership
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 10, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def deputy(group):
    person = UserFactory(username="deputy", first_name="Dee", last_name="Puty")
    MembershipFactory(group=group, user=person)
    ChatGroup.objects.filter(pk=group.pk).update(deputy=person)
    group.refresh_from_db()
    return person


@pytest.fixture
def disabled_member(group):
    person = UserFactory(username="gone", first_name="Gone", last_name="Away")
    MembershipFactory(group=group, user=person)
    person.is_active = False
    person.save()
    return person


def roles_url(group):
    return reverse("groups:roles", args=[group.pk])


# --- the deputy may not take over -------------------------------------------------------


def test_the_deputy_cannot_make_themselves_admin(group, deputy, admin_user):
    with pytest.raises(PermissionDenied):
        services.chatgroup_set_admin(group=group, user=deputy, by=deputy)
    group.refresh_from_db()
    assert group.admin == admin_user and group.deputy == deputy


def test_the_deputy_cannot_name_or_clear_the_deputy(group, deputy, member):
    with pytest.raises(PermissionDenied):
        services.chatgroup_set_deputy(group=group, user=member, by=deputy)
    with pytest.raises(PermissionDenied):
        services.chatgroup_set_deputy(group=group, user=None, by=deputy)
    group.refresh_from_db()
    assert group.deputy == deputy


def test_the_deputy_still_manages_members(group, deputy, time_machine):
    time_machine.move_to(NOW, tick=False)
    newcomer = UserFactory()
    membership = services.membership_add(group=group, user=newcomer, by=deputy)
    assert Membership.objects.active().filter(group=group, user=newcomer, added_by=deputy).exists()

    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    services.membership_remove(membership=membership, by=deputy)
    membership.refresh_from_db()
    assert (membership.left_at, membership.removed_by) == (NOW + dt.timedelta(hours=1), deputy)
    assert not Membership.objects.active().filter(group=group, user=newcomer).exists()
    # Both changes are on record as the deputy's.
    changes = membership.history.order_by("history_date").values_list("history_change_reason", "history_user")
    assert list(changes) == [("Added", deputy.pk), ("Removed", deputy.pk)]


def test_the_dpo_hands_over_admin_and_names_the_deputy(group, dpo, member, admin_user):
    services.chatgroup_set_admin(group=group, user=member, by=dpo)
    services.chatgroup_set_deputy(group=group, user=admin_user, by=dpo)
    group.refresh_from_db()
    assert (group.admin, group.deputy) == (member, admin_user)


def test_the_deputy_gets_403_on_the_roles_page_and_nothing_changes(client, group, deputy, admin_user):
    client.force_login(deputy)
    assert client.get(roles_url(group)).status_code == 403
    assert client.post(roles_url(group), {"admin-user": deputy.pk}).status_code == 403
    assert client.post(roles_url(group), {"deputy-user": ""}).status_code == 403
    group.refresh_from_db()
    assert group.admin == admin_user and group.deputy == deputy
    # ...so the admin cannot be removed by the deputy either.
    admin_membership = Membership.objects.get(group=group, user=admin_user)
    response = client.post(reverse("groups:member_remove", args=[group.pk, admin_membership.pk]))
    assert response.status_code == 200 and "Hand the admin role to another member" in response.content.decode()
    admin_membership.refresh_from_db()
    assert admin_membership.is_active


def test_the_deputy_does_not_see_the_roles_link_but_the_admin_and_dpo_do(client, group, deputy, admin_user, dpo):
    detail = reverse("groups:detail", args=[group.pk])
    client.force_login(deputy)
    body = client.get(detail).content.decode()
    assert "Add members" in body and roles_url(group) not in body
    for person in (admin_user, dpo):
        client.force_login(person)
        assert roles_url(group) in client.get(detail).content.decode()


# --- disabled accounts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "role"), [(services.chatgroup_set_admin, "admin"), (services.chatgroup_set_deputy, "deputy")]
)
def test_a_disabled_account_cannot_become_admin_or_deputy(group, admin_user, disabled_member, service, role):
    with pytest.raises(ValidationError) as exc:
        service(group=group, user=disabled_member, by=admin_user)
    assert exc.value.message_dict["user"] == [
        f"Gone Away's account is disabled, so they cannot be the {role}. Choose someone else."
    ]
    group.refresh_from_db()
    assert group.admin == admin_user and group.deputy is None


def test_the_roles_page_offers_only_active_accounts(client, group, admin_user, member, disabled_member):
    client.force_login(admin_user)
    response = client.get(roles_url(group))
    for form in ("admin_form", "deputy_form"):
        offered = list(response.context[form].fields["user"].queryset)
        assert member in offered and disabled_member not in offered
    assert "Gone Away" not in response.content.decode()
    response = client.post(roles_url(group), {"admin-user": disabled_member.pk})
    assert response.status_code == 200 and response.context["admin_form"].errors["user"]
    response = client.post(roles_url(group), {"deputy-user": disabled_member.pk})
    assert response.status_code == 200 and response.context["deputy_form"].errors["user"]
    group.refresh_from_db()
    assert group.admin == admin_user and group.deputy is None
