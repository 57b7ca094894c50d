"""The demo data: one account per role, weeks of clear-downs to look at, safe to run twice."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from attestations.models import Cycle, Hold, Obligation
from groups.models import ChatGroup, PolicyAcknowledgement, PolicyVersion
from groups.permissions import is_auditor, is_dpo
from groups.policy_selectors import policy_ack_due, policy_current

pytestmark = pytest.mark.django_db


def test_it_builds_demo_data_once_and_leaves_the_demo_member_something_to_attest(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    call_command("seed_demo", stdout=io.StringIO())
    counts = (ChatGroup.objects.count(), Cycle.objects.count(), Obligation.objects.count())
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert (ChatGroup.objects.count(), Cycle.objects.count(), Obligation.objects.count()) == counts
    # The logins the README lists are the ones it prints.
    printed = {line.split()[0] for line in out.getvalue().splitlines() if line.startswith("  ") and "(" not in line[:4]}
    assert printed == {"dpo", "auditor", "admin", "member", "owen"}

    from django.contrib.auth import get_user_model

    users = {u.username: u for u in get_user_model().objects.all()}
    assert is_dpo(users["dpo"]) and is_auditor(users["auditor"])
    assert ChatGroup.objects.filter(status="proposed").count() == 1
    assert Obligation.objects.filter(user__username="member", status="pending").count() == 2
    statuses = set(Obligation.objects.values_list("status", flat=True))
    assert {"attested", "late", "pending", "held"} <= statuses
    assert Hold.objects.filter(lifted_at__isnull=True).count() == 1
    # The register's history agrees with the backdated dates: nothing approved "today".
    for group in ChatGroup.objects.exclude(status="proposed"):
        approved = group.history.filter(status="approved").earliest("history_date")
        assert approved.history_date == group.approved_at
        assert group.history.earliest("history_date").history_date < group.approved_at


def test_it_publishes_versions_1_0_and_2_0_of_the_policy_with_some_acknowledged(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    assert list(PolicyVersion.objects.order_by("number").values_list("number", "published_by__username")) == [
        ("1.0", "dpo"),
        ("2.0", "dpo"),
    ]
    current = policy_current(now=timezone.now())
    assert current.number == "2.0" and "limited number of chat groups" in current.text
    done = PolicyAcknowledgement.objects.filter(version=current, acknowledged_at__isnull=False)
    assert set(done.values_list("user__username", flat=True)) == {"admin", "priya"}
    member = PolicyAcknowledgement.objects.get(version=current, user__username="member").user
    assert policy_ack_due(user=member, now=timezone.now()).version == current
