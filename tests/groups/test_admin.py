"""The Django admin (IT's break-glass access) never deletes groups or memberships: history is kept."""

import pytest
from django.urls import reverse

from groups.models import ChatGroup, Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(username="it", is_staff=True, is_superuser=True)


def test_it_offers_no_delete_for_groups_or_memberships(client, superuser, group, member):
    client.force_login(superuser)
    membership = Membership.objects.get(group=group, user=member)
    change = client.get(reverse("admin:groups_chatgroup_change", args=[group.pk])).content.decode()
    assert "memberships-0-DELETE" not in change  # no "Delete?" box on the membership rows
    assert reverse("admin:groups_chatgroup_delete", args=[group.pk]) not in change
    for name, pk in (("chatgroup", group.pk), ("membership", membership.pk)):
        assert client.get(reverse(f"admin:groups_{name}_delete", args=[pk])).status_code == 403
        assert client.post(reverse(f"admin:groups_{name}_delete", args=[pk]), {"post": "yes"}).status_code == 403
        listing = client.get(reverse(f"admin:groups_{name}_changelist")).content.decode()
        assert "delete_selected" not in listing
    assert ChatGroup.objects.filter(pk=group.pk).exists() and Membership.objects.filter(pk=membership.pk).exists()
