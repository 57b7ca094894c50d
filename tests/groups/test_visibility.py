"""Who sees a proposal: outsiders learn nothing of it; the people in it see it."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from groups import permissions, services
from groups.models import Membership

pytestmark = pytest.mark.django_db


def test_an_outsider_gets_404_on_a_proposals_history_as_on_its_page(client, outsider, proposal):
    client.force_login(outsider)
    assert client.get(reverse("groups:detail", args=[proposal.pk])).status_code == 404
    assert client.get(reverse("groups:history", args=[proposal.pk])).status_code == 404
    assert client.get(reverse("groups:history", args=[999999])).status_code == 404


def test_a_member_added_to_a_proposal_sees_it_on_the_register_and_its_page(client, admin_user, member, proposal):
    services.membership_add(group=proposal, user=member, by=admin_user)
    client.force_login(member)
    response = client.get(reverse("groups:detail", args=[proposal.pk]))
    assert response.status_code == 200 and "New Idea" in response.content.decode()
    assert "New Idea" in client.get(reverse("groups:register")).content.decode()
    # Their own membership does not open the history or the management pages.
    assert client.get(reverse("groups:history", args=[proposal.pk])).status_code == 403
    assert client.get(reverse("groups:edit", args=[proposal.pk])).status_code == 403


def test_a_former_member_of_a_proposal_no_longer_sees_it(client, admin_user, member, proposal):
    membership = services.membership_add(group=proposal, user=member, by=admin_user)
    Membership.objects.filter(pk=membership.pk).update(left_at=timezone.now())
    client.force_login(member)
    assert client.get(reverse("groups:detail", args=[proposal.pk])).status_code == 404
    assert "New Idea" not in client.get(reverse("groups:register")).content.decode()


def test_a_member_of_another_group_does_not_see_a_proposal(client, member, group, proposal):
    # Being a member somewhere is not enough: it must be of this proposal.
    client.force_login(member)
    assert client.get(reverse("groups:detail", args=[proposal.pk])).status_code == 404
    assert "New Idea" not in client.get(reverse("groups:register")).content.decode()


def test_an_anonymous_visitor_manages_nothing(group, proposal):
    anonymous = AnonymousUser()
    assert permissions.can_manage(anonymous, group) is False
    assert permissions.can_see_group(anonymous, proposal) is False
