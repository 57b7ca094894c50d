"""The broker really unreachable: the web keeps working and nothing is lost."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from attestations import notifications, services
from attestations.models import Cycle, Obligation, SentEmail
from opcc_portal.celery import app
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(settings):
    """Point the Celery app at a port where nothing listens (the discard port), then back."""
    keys = (
        "broker_url",
        "broker_write_url",
        "broker_read_url",
        "broker_transport",
        "broker_transport_options",
        "task_always_eager",
    )
    saved = {key: app.conf[key] for key in keys}

    def reset_pools():
        app._pool = None
        app.amqp._producer_pool = None

    # The write and read URLs were derived from the broker URL when the app was configured.
    nowhere = "redis://127.0.0.1:9/0"
    app.conf.update(
        broker_url=nowhere,
        broker_write_url=nowhere,
        broker_read_url=nowhere,
        task_always_eager=False,
        broker_transport=None,
        broker_transport_options={"max_retries": 1, "interval_start": 0, "interval_step": 0.1},
    )
    reset_pools()

    def restore():
        app.conf.update(saved)
        reset_pools()

    yield restore
    restore()


def test_attesting_and_prompting_work_while_the_broker_is_down_and_the_sweep_catches_up(
    client, group, admin_user, member, broker_down, django_capture_on_commit_callbacks, caplog
):
    other = MembershipFactory(group=group).user
    services.cycle_close_due(now=timezone.now())
    cycle = Cycle.objects.get(group=group)
    obligation = Obligation.objects.get(cycle=cycle, user=member)

    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("attestations:prompt", args=[cycle.pk]))
    assert response.status_code == 302
    cycle.refresh_from_db()
    assert cycle.prompted_at is not None and cycle.prompted_by == admin_user
    assert "the next sweep will queue it again" in caplog.text  # the broker really was unreachable
    assert SentEmail.objects.filter(kind="prompt", status="pending").count() == 3  # recorded, waiting

    client.force_login(member)
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("home"), {"obligations": [obligation.pk], "cleared_on": today.isoformat(), "confirmed_saved": "on"}
        )
    assert response.status_code == 302
    obligation.refresh_from_db()
    assert obligation.status in (Obligation.Status.ATTESTED, Obligation.Status.LATE)
    assert mail.outbox == []

    # The broker is back; the next sweep (at reminder time) sends the prompt emails still owed
    # (not to the member who has attested meanwhile) and reaches whoever still owes.
    broker_down()
    app.conf.task_always_eager = True
    reminder_time = cycle.due_at - dt.timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.sweep(now=reminder_time)
    reminded = [m.to[0] for m in mail.outbox]
    assert reminded.count(other.email) == 2 and member.email not in reminded  # the prompt, then the reminder
    prompts = dict(SentEmail.objects.filter(kind="prompt").values_list("user", "status"))
    assert prompts == {admin_user.pk: "sent", other.pk: "sent", member.pk: "cancelled"}
    assert SentEmail.objects.filter(user=other, kind="reminder", status=SentEmail.Status.SENT).exists()
