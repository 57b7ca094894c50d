"""The policy's emails (R15), through the outbox to a real SMTP server: one reminder before
the deadline, one overdue digest to the group's admin and deputy, never twice."""

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attestations.models import SentEmail
from attestations.notifications import policy as policy_emails
from attestations.outbox import sentemail_send
from groups import policy
from groups.models import PolicyAcknowledgement
from tests.attestations.conftest import at, clock, eager_celery, utc  # noqa: F401 - fixtures
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory, policy_version
from tests.notifications.test_failures import _closed_port

pytestmark = pytest.mark.django_db

PUBLISHED = utc(2026, 11, 10, 9)  # BASE of the frozen clock
DUE = PUBLISHED + dt.timedelta(days=14)  # GMT all along: UTC and UK time agree


@pytest.fixture
def sweep_at(at, django_capture_on_commit_callbacks):  # noqa: F811
    def run(when):
        at(when)
        with django_capture_on_commit_callbacks(execute=True):
            return policy_emails.sweep(now=when)

    return run


@pytest.fixture
def version(dpo, group):
    return policy_version(number="2.0", by=dpo, changes="Disappearing messages explained.")


def test_it_reminds_each_member_once_before_the_deadline(version, group, member, admin_user, sweep_at, smtp_server):
    assert sweep_at(PUBLISHED) == []  # asked, not yet reminded
    assert PolicyAcknowledgement.objects.filter(version=version).count() == 2
    policy.policy_acknowledge(version=version, user=admin_user)
    before = DUE - dt.timedelta(hours=settings.REMINDER_LEAD_HOURS - 1)
    assert len(sweep_at(before)) == 1
    assert sweep_at(before + dt.timedelta(minutes=15)) == []  # run twice: one email
    [message] = smtp_server.messages
    assert message["To"] == member.email
    assert message["Subject"] == "Please read the WhatsApp policy, version 2.0, by Tue 24 Nov"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Tue 24 Nov 2026, 09:00" in body and "Disappearing messages explained." in body
        assert f"{settings.SITE_URL}/policy/{version.pk}/" in body
    email = SentEmail.objects.get(kind="policy_reminder")
    assert email.status == "sent" and list(email.policy_acks.values_list("user", flat=True)) == [member.pk]


def test_a_member_who_acknowledges_before_the_reminder_is_sent_gets_none(version, member, at, smtp_server):  # noqa: F811
    policy.policy_acks_ensure(now=PUBLISHED)
    before = DUE - dt.timedelta(hours=1)
    at(before)
    ids = policy_emails.reminders_queue(now=before, queue=False)
    policy.policy_acknowledge(version=version, user=member)
    mine = SentEmail.objects.get(pk__in=ids, user=member)
    sentemail_send(sent_email_id=mine.pk, now=before)
    assert smtp_server.messages == []
    mine.refresh_from_db()
    assert (mine.status, mine.error) == ("cancelled", "already acknowledged")


def test_overdue_acknowledgements_go_once_to_the_admin_and_deputy_in_one_digest(
    version,
    group,
    member,
    admin_user,
    sweep_at,
    smtp_server,
    at,  # noqa: F811
):
    deputy = UserFactory(username="deputy", first_name="Dee", last_name="Puty")
    MembershipFactory(group=group, user=deputy)
    group.deputy = deputy
    group.save()
    other = ChatGroupFactory(name="Other", admin=admin_user)
    late = UserFactory(username="late", first_name="Lee", last_name="Late")
    MembershipFactory(group=other, user=late)
    MembershipFactory(group=other, user=member)
    sweep_at(PUBLISHED)
    after = DUE + dt.timedelta(minutes=1)
    sweep_at(after)
    sweep_at(after + dt.timedelta(minutes=15))  # run twice: nothing more
    digests = {m["To"]: m for m in smtp_server.messages if "not acknowledged" in m["Subject"]}
    assert set(digests) == {admin_user.email, deputy.email}
    admin_text = digests[admin_user.email].get_body(("plain",)).get_content()
    assert digests[admin_user.email]["Subject"] == ("3 people have not acknowledged the WhatsApp policy, version 2.0")
    assert "Morgan Lee (Other, Urgent Ops)" in admin_text and "Lee Late (Other)" in admin_text
    assert "Dee Puty (Urgent Ops)" in admin_text
    deputy_html = digests[deputy.email].get_body(("html",)).get_content()
    assert "Morgan Lee (Urgent Ops)" in deputy_html and "Lee Late" not in deputy_html
    assert "/dashboard/policy/" in deputy_html
    assert SentEmail.objects.filter(kind="policy_overdue").count() == 2
    # Someone who joins later and misses their own deadline is in a later digest, once.
    newcomer = UserFactory(username="newcomer", first_name="New", last_name="Comer")
    at(after + dt.timedelta(hours=1))
    MembershipFactory(group=group, user=newcomer, joined_at=after + dt.timedelta(hours=1))
    sweep_at(after + dt.timedelta(hours=1))
    sweep_at(after + dt.timedelta(days=15))
    sweep_at(after + dt.timedelta(days=15, minutes=15))
    later = [m for m in smtp_server.messages if m["Subject"].startswith("1 person has not")]
    assert sorted(m["To"] for m in later) == sorted([admin_user.email, deputy.email])
    assert "New Comer" in later[0].get_body(("plain",)).get_content()


def test_a_policy_email_failed_through_every_attempt_gives_its_claim_back(
    version,
    group,
    member,
    admin_user,
    sweep_at,
    smtp_server,
    settings,  # noqa: F811
):
    """The mail server down through every attempt: the reminder and the overdue digest each
    give back what they claimed, and a later sweep makes them again once it is back."""
    settings.EMAIL_MAX_ATTEMPTS = 1
    port, settings.EMAIL_PORT = smtp_server.port, _closed_port()
    sweep_at(PUBLISHED)
    policy.policy_acknowledge(version=version, user=admin_user)
    ack = PolicyAcknowledgement.objects.get(version=version, user=member)
    before = DUE - dt.timedelta(hours=settings.REMINDER_LEAD_HOURS - 1)
    [reminder] = sweep_at(before)
    assert SentEmail.objects.get(pk=reminder).status == "failed"
    ack.refresh_from_db()
    assert ack.reminder_sent_at is None
    after = DUE + dt.timedelta(minutes=1)
    [digest] = sweep_at(after)
    assert SentEmail.objects.get(pk=digest).status == "failed"
    ack.refresh_from_db()
    assert ack.overdue_notified_at is None

    settings.EMAIL_PORT = port
    sweep_at(after + dt.timedelta(minutes=15))
    assert [m["To"] for m in smtp_server.messages] == [admin_user.email]  # the digest; the reminder's time is past
    ack.refresh_from_db()
    assert ack.overdue_notified_at == after + dt.timedelta(minutes=15)


def test_the_sweep_queries_stay_flat_as_people_grow(version, group, at):  # noqa: F811
    """Asking, reminding and the overdue digest: the same queries for 3 people as for 30."""
    when = DUE + dt.timedelta(minutes=1)

    def run_for(extra: int) -> tuple[int, int]:
        PolicyAcknowledgement.objects.all().delete()
        SentEmail.objects.all().delete()
        for _ in range(extra):
            MembershipFactory(group=group, user=UserFactory())
        at(PUBLISHED)
        with CaptureQueriesContext(connection) as asked:
            policy.policy_acks_ensure(now=PUBLISHED)
        at(when)
        with CaptureQueriesContext(connection) as swept:
            emails = policy_emails.sweep(now=when, queue=False)
        assert emails, "the admin's digest of the overdue members"
        return len(asked), len(swept)

    small = run_for(1)
    assert run_for(27) == small
