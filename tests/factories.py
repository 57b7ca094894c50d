"""factory_boy factories shared by the whole suite."""

from __future__ import annotations

import datetime as dt
import importlib

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as Role
from django.utils import timezone

from groups.models import ChatGroup, Membership, PolicyVersion
from groups.permissions import AUDITOR_ROLE, DPO_ROLE

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Role.objects.filter(name__in=extracted))
        if create:
            self.save()


def ensure_roles() -> None:
    """Make the roles of the data migrations exist, with their permissions.

    A transactional test (every live-server or real-worker test) ends by emptying every
    table; Django puts permissions and content types back, but not the DPO and Auditor
    roles, so later tests in the same process would find users without their permissions.
    """
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Permission

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for module in ("groups.migrations.0002_roles", "attestations.migrations.0002_roles"):
        for role, perms in importlib.import_module(module).ROLES.items():
            group, _ = Role.objects.get_or_create(name=role)
            group.permissions.add(
                *(Permission.objects.get(content_type__app_label=app, codename=code) for app, code in perms)
            )


def dpo_user(**kwargs):
    return UserFactory(roles=[DPO_ROLE], **kwargs)


def auditor_user(**kwargs):
    return UserFactory(roles=[AUDITOR_ROLE], **kwargs)


class ChatGroupFactory(factory.django.DjangoModelFactory):
    """A group with its admin as a member (as the propose service would leave it)."""

    class Meta:
        model = ChatGroup
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Work group {n}")
    purpose = "Urgent short-term coordination of the team's work."
    admin = factory.SubFactory(UserFactory)
    proposed_by = factory.SelfAttribute("admin")
    status = ChatGroup.Status.APPROVED
    cycle_weekday = ChatGroup.Weekday.FRIDAY
    cycle_time = dt.time(17, 0)

    @factory.post_generation
    def admin_membership(self, create, extracted, **kwargs):
        if create:
            Membership.objects.create(group=self, user=self.admin, joined_at=timezone.now() - dt.timedelta(days=60))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    group = factory.SubFactory(ChatGroupFactory)
    user = factory.SubFactory(UserFactory)
    joined_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))


# --- Clear-downs (attestations) ------------------------------------------------------

from attestations.models import Cycle, Flag, Hold, Obligation  # noqa: E402


class HoldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hold

    group = factory.SubFactory(ChatGroupFactory)
    reference = factory.Sequence(lambda n: f"FOI-2026-{n:04d}")
    reason = "An FOI request covers this group's messages."
    placed_by = factory.SubFactory(UserFactory)
    placed_at = factory.LazyFunction(timezone.now)


class CycleFactory(factory.django.DjangoModelFactory):
    """A cycle whose period ended an hour ago, with the default 48 hours' grace."""

    class Meta:
        model = Cycle

    group = factory.SubFactory(ChatGroupFactory)
    period_end = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    period_start = factory.LazyAttribute(lambda c: c.period_end - dt.timedelta(days=7))
    prompt_due_at = factory.LazyAttribute(lambda c: c.period_end + dt.timedelta(hours=24))
    due_at = factory.LazyAttribute(lambda c: c.period_end + dt.timedelta(hours=48))


class ObligationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Obligation

    cycle = factory.SubFactory(CycleFactory)
    user = factory.SubFactory(UserFactory)
    due_at = factory.SelfAttribute("cycle.due_at")
    status = Obligation.Status.PENDING


class FlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flag

    kind = Flag.Kind.MEMBER_OVERDUE
    cycle = factory.SubFactory(CycleFactory)
    group = factory.SelfAttribute("cycle.group")
    user = factory.SubFactory(UserFactory)
    raised_at = factory.LazyFunction(timezone.now)


# --- Dashboard: obligations in each state, valid under the model's constraints -------------


def obligation_in_state(*, cycle, user, state: str, attested_at=None, excused_by=None):
    """An obligation of `user` for `cycle` in a dashboard state.

    `state` is "on_time", "late" (both need `attested_at`), "pending", "excused" or "held".
    Whether a pending one is outstanding or overdue depends only on the clock.
    """
    fields = {"cycle": cycle, "user": user, "due_at": cycle.due_at}
    if state in ("on_time", "late"):
        fields.update(
            status=Obligation.Status.ATTESTED if state == "on_time" else Obligation.Status.LATE,
            attested_at=attested_at,
            cleared_on=attested_at.date(),
            confirmed_cleared=True,
            confirmed_saved=True,
            channel=Obligation.Channel.WEB,
        )
    elif state == "excused":
        fields.update(
            status=Obligation.Status.EXCUSED,
            excused_by=excused_by or cycle.group.admin,
            excused_at=cycle.period_end + dt.timedelta(hours=1),
            excuse_reason="Annual leave",
        )
    elif state == "held":
        fields.update(status=Obligation.Status.HELD)
    else:
        fields.update(status=Obligation.Status.PENDING)
    return ObligationFactory(**fields)


# --- The policy's versions (R15) --------------------------------------------------------


def policy_version(*, number: str = "2.0", by=None, effective_on=None, published: bool = True, **fields):
    """A version of the policy, published (by a DPO) at the current instant unless told not to."""
    by = by or dpo_user(username=f"policy-dpo-{number}")
    now = timezone.now()
    version = PolicyVersion.objects.create(
        title=fields.pop("title", "WhatsApp policy"),
        number=number,
        effective_on=effective_on or timezone.localdate(now),
        text=fields.pop("text", "Clear each work group's chat every seven days."),
        changes=fields.pop("changes", "First version."),
        created_by=by,
        created_at=now,
        published_by=by if published else None,
        published_at=now if published else None,
        **fields,
    )
    return version
