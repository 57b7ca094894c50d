"""Database constraints of the register (R1, R7, R11)."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from groups.models import ChatGroup, Membership
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_it_refuses_a_second_group_with_the_same_name_in_any_case():
    ChatGroupFactory(name="Urgent Ops")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatGroupFactory(name="URGENT ops")


def test_it_refuses_an_empty_purpose():
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatGroupFactory(purpose="")


def test_it_refuses_a_deputy_who_is_also_the_admin():
    group = ChatGroupFactory()
    group.deputy = group.admin
    with pytest.raises(IntegrityError), transaction.atomic():
        group.save()


def test_it_refuses_an_unknown_status():
    group = ChatGroupFactory()
    ChatGroup.objects.filter(pk=group.pk).update(status="approved")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatGroup.objects.filter(pk=group.pk).update(status="archived")


def test_it_allows_only_one_active_membership_per_person_and_group():
    membership = MembershipFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(group=membership.group, user=membership.user, joined_at=timezone.now())


def test_it_allows_rejoining_after_leaving():
    membership = MembershipFactory()
    membership.left_at = timezone.now()
    membership.save()
    again = Membership.objects.create(group=membership.group, user=membership.user, joined_at=timezone.now())
    assert Membership.objects.filter(group=membership.group, user=membership.user).count() == 2
    assert again.is_active and not Membership.objects.get(pk=membership.pk).is_active


def test_it_refuses_leaving_before_joining():
    membership = MembershipFactory()
    membership.left_at = membership.joined_at - dt.timedelta(seconds=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        membership.save()


def test_it_keeps_history_of_every_change_with_its_author():
    group = ChatGroupFactory(name="Before")
    editor = UserFactory()
    group.name = "After"
    group._history_user = editor
    group.save()
    records = list(group.history.order_by("history_date"))
    assert [r.name for r in records] == ["Before", "After"]
    assert records[-1].history_user == editor


def test_it_uses_the_office_logo_when_none_is_uploaded():
    assert ChatGroupFactory().logo_url.endswith("img/office-logo.png")


def test_it_creates_the_dpo_and_auditor_roles_with_their_permissions():
    from django.contrib.auth.models import Group as Role

    dpo = set(Role.objects.get(name="DPO").permissions.values_list("codename", flat=True))
    auditor = set(Role.objects.get(name="Auditor").permissions.values_list("codename", flat=True))
    assert {"approve_chatgroup", "manage_any_chatgroup", "view_register_history"} <= dpo
    assert "view_register_history" in auditor
    assert not {"approve_chatgroup", "manage_any_chatgroup"} & auditor
