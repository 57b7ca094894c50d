"""The broker really unreachable: the web keeps working and nothing is lost."""

import contextlib
import datetime as dt
import signal
import socket

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from attestations import services
from attestations.models import Cycle, Obligation, SentEmail
from attestations.notifications import sweep as notifications
from opcc_portal.broker import NETWORK_TRANSPORT_OPTIONS
from opcc_portal.celery import app
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

PERIOD_END = dt.datetime(2026, 11, 13, 17, tzinfo=dt.UTC)  # a Friday, 17:00 GMT: the factory groups' week ends


_BROKER_KEYS = (
    "broker_url",
    "broker_write_url",
    "broker_read_url",
    "broker_transport",
    "broker_transport_options",
    "task_always_eager",
)


def _point_broker_at(url: str, options: dict):
    """Point the Celery app at another broker; returns a function that puts it back."""
    saved = {key: app.conf[key] for key in _BROKER_KEYS}

    def reset_pools():
        app._pool = None
        app.amqp._producer_pool = None

    # The write and read URLs were derived from the broker URL when the app was configured.
    app.conf.update(
        broker_url=url,
        broker_write_url=url,
        broker_read_url=url,
        task_always_eager=False,
        broker_transport=None,
        broker_transport_options=options,
    )
    reset_pools()

    def restore():
        app.conf.update(saved)
        reset_pools()

    return restore


@pytest.fixture
def broker_down(settings):
    """Point the Celery app at a port where nothing listens (the discard port), then back."""
    restore = _point_broker_at("redis://127.0.0.1:9/0", {"max_retries": 1, "interval_start": 0, "interval_step": 0.1})
    yield restore
    restore()


@pytest.fixture
def broker_silent():
    """A "broker" that takes connections (the kernel completes them) and never says a word,
    as a hung or overloaded Redis does; the app uses the production transport options."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # never accepted, never answered
        restore = _point_broker_at(f"redis://127.0.0.1:{listener.getsockname()[1]}/0", NETWORK_TRANSPORT_OPTIONS)
        yield
        restore()


@pytest.fixture
def week_just_ended(time_machine):
    """An hour after the factory groups' week ended, before any of the test's data is made.
    The clock runs: the broker's connection retries wait on it."""
    time_machine.move_to(PERIOD_END + dt.timedelta(hours=1), tick=True)
    return time_machine


@contextlib.contextmanager
def within(seconds: int):
    """Fail, instead of hanging the suite, if the block has not finished after `seconds`."""

    class StillWaiting(BaseException):  # not an Exception: the portal's handlers must not swallow it
        pass

    def expired(signum, frame):
        raise StillWaiting(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_broker_that_never_answers_does_not_hold_up_the_prompt(
    week_just_ended, client, group, admin_user, broker_silent, django_capture_on_commit_callbacks, caplog
):
    services.cycle_close_due(now=timezone.now())
    cycle = Cycle.objects.get(group=group)
    client.force_login(admin_user)
    with within(30), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("attestations:prompt", args=[cycle.pk]))
    assert response.status_code == 302
    cycle.refresh_from_db()
    assert cycle.prompted_by == admin_user
    assert "the next sweep will queue it again" in caplog.text  # publishing gave up
    assert SentEmail.objects.filter(kind="prompt", status="pending").count() == cycle.obligations.count()


def test_attesting_and_prompting_work_while_the_broker_is_down_and_the_sweep_catches_up(
    week_just_ended, client, group, admin_user, member, broker_down, django_capture_on_commit_callbacks, caplog
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
    week_just_ended.move_to(reminder_time, tick=True)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.sweep(now=reminder_time)
    reminded = [m.to[0] for m in mail.outbox]
    assert reminded.count(other.email) == 2 and member.email not in reminded  # the prompt, then the reminder
    prompts = dict(SentEmail.objects.filter(kind="prompt").values_list("user", "status"))
    assert prompts == {admin_user.pk: "sent", other.pk: "sent", member.pk: "cancelled"}
    assert SentEmail.objects.filter(user=other, kind="reminder", status=SentEmail.Status.SENT).exists()
