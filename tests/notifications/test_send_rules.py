"""The outbox's rules for one send, each on its own: which failures are tried again, what a
failed row keeps, the history it writes, and which builder makes each kind of email."""

import datetime as dt
import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMessage

from attestations import outbox
from attestations.models import SentEmail
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)


def refused(*codes: int) -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused({f"r{i}@example.org": (code, b"reply") for i, code in enumerate(codes)})


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        # A recipient refused: worth another try only if every refusal says "try later" (4xx).
        (refused(450), True),
        (refused(499), True),
        (refused(500), False),
        (refused(550), False),
        (refused(599), False),
        (refused(450, 550), False),
        (refused(), False),  # nobody refused, yet an error: nothing to wait for
        # A reply to another command: the same line between 4xx and 5xx.
        (smtplib.SMTPResponseException(421, b"closing"), True),
        (smtplib.SMTPResponseException(499, b"later"), True),
        (smtplib.SMTPDataError(500, b"syntax"), False),
        (smtplib.SMTPAuthenticationError(535, b"bad login"), False),
        (smtplib.SMTPDataError(599, b"no"), False),
        # The network and the TLS handshake may come back; the portal's own errors will not.
        (smtplib.SMTPServerDisconnected("gone"), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (ValueError("a bug"), False),
    ],
)
def test_only_a_failure_that_may_pass_is_tried_again(error, transient):
    assert outbox.mail_error_is_transient(error) is transient


def pending_email() -> SentEmail:
    return SentEmail.objects.create(
        key="test:one", kind=SentEmail.Kind.DPO_SUMMARY, to_address="dpo@example.org", created_at=WHEN
    )


def reasons(email: SentEmail) -> list[str]:
    return list(email.history.order_by("history_id").values_list("history_change_reason", flat=True))


def test_a_refused_email_is_failed_at_once_and_its_history_says_why():
    email = pending_email()
    outcome = outbox._send_failed(email, refused(550), transient=False)
    email.refresh_from_db()
    assert (outcome.status, outcome.retry, email.status, email.retry_later) == ("failed", False, "failed", False)
    assert reasons(email)[-1] == "Refused: not tried again"


def test_each_failed_attempt_and_the_last_one_are_in_the_history(settings):
    settings.EMAIL_MAX_ATTEMPTS = 2
    email = pending_email()
    for attempt in (1, 2):
        email.attempts = attempt
        outcome = outbox._send_failed(email, ConnectionRefusedError("down"), transient=True)
    email.refresh_from_db()
    assert (outcome.status, email.status, email.retry_later) == ("failed", "failed", True)
    assert reasons(email)[-2:] == ["Attempt 1 failed", "Failed after 2 attempts"]


def test_a_failed_email_keeps_the_first_2000_characters_of_its_error():
    email = pending_email()
    outbox._send_failed(email, ValueError("x" * 3000), transient=False)
    email.refresh_from_db()
    assert email.error == ("ValueError: " + "x" * 3000)[:2000]


def test_a_kind_is_built_by_the_builder_registered_for_it(monkeypatch):
    monkeypatch.setattr(outbox, "BUILDERS", dict(outbox.BUILDERS))

    def builder(email, *, to, now):
        return None, "built"

    outbox.register(["kind-a", "kind-b"], builder)
    assert outbox.BUILDERS["kind-a"] is builder and outbox.BUILDERS["kind-b"] is builder


def test_each_failure_is_logged_with_the_email_it_is_about(settings, caplog):
    """What the operator reads, and the `email_id` the structured logs carry to find the row."""
    settings.EMAIL_MAX_ATTEMPTS = 3
    email = pending_email()
    email.attempts = 1
    with caplog.at_level("WARNING", logger="attestations.outbox"):
        outbox._send_failed(email, ConnectionRefusedError("down"), transient=True)
        outbox._send_failed(email, refused(550), transient=False)
    retried, refused_for_good = caplog.records
    assert (retried.levelname, retried.getMessage(), retried.email_id) == (
        "WARNING",
        f"Email {email.pk} (dpo_summary) attempt 1 failed: down",
        email.pk,
    )
    assert (refused_for_good.levelname, refused_for_good.email_id) == ("ERROR", email.pk)
    assert refused_for_good.getMessage() == (f"Email {email.pk} (dpo_summary) refused, not tried again: {refused(550)}")


def test_a_message_id_names_the_portals_host_or_localhost_without_one(settings):
    email = pending_email()
    settings.SITE_URL = "https://clear-down.example.org/portal"
    assert outbox.message_id(email).endswith("@clear-down.example.org>")
    settings.SITE_URL = ""
    assert outbox.message_id(email).endswith("@localhost>")


@pytest.mark.parametrize(
    ("recorded", "current", "to"),
    [
        ("recorded@example.org", "current@example.org", "recorded@example.org"),
        ("", "current@example.org", "current@example.org"),  # none when it was made: theirs now
        ("", "", None),
    ],
)
def test_an_email_goes_to_the_address_it_recorded_or_else_to_its_recipients_current_one(
    monkeypatch, recorded, current, to
):
    monkeypatch.setitem(outbox.BUILDERS, SentEmail.Kind.DPO_SUMMARY, lambda email, *, to, now: ("message", to))
    user = UserFactory(email=current)
    email = SentEmail(key="test:to", kind=SentEmail.Kind.DPO_SUMMARY, user=user, to_address=recorded, created_at=WHEN)
    assert outbox.build(email, now=WHEN) == (("message", to) if to else (None, outbox.NO_ADDRESS))


def test_an_email_to_nobody_in_particular_needs_the_address_it_recorded(monkeypatch):
    monkeypatch.setitem(outbox.BUILDERS, SentEmail.Kind.DPO_SUMMARY, lambda email, *, to, now: ("message", to))
    email = SentEmail(key="test:to", kind=SentEmail.Kind.DPO_SUMMARY, to_address="", created_at=WHEN)
    assert outbox.build(email, now=WHEN) == (None, outbox.NO_ADDRESS)
    email.to_address = "office@example.org"
    assert outbox.build(email, now=WHEN) == ("message", "office@example.org")


def test_an_email_that_cannot_be_built_is_failed_counting_the_attempt_and_logged(monkeypatch, caplog):
    """A bug in a builder (a template, the portal's own code): recorded as one more attempt,
    at that instant, failed for good, and logged with the email it is about."""
    email = pending_email()
    SentEmail.objects.filter(pk=email.pk).update(attempts=2)  # two transient failures before
    monkeypatch.setattr(outbox, "BUILDERS", dict(outbox.BUILDERS))

    def broken(email, *, to, now):
        raise ValueError("a bug in the template")

    outbox.register([SentEmail.Kind.DPO_SUMMARY], broken)
    with caplog.at_level("ERROR", logger="attestations.outbox"):
        outcome = outbox.sentemail_send(sent_email_id=email.pk, now=WHEN)
    email.refresh_from_db()
    assert outcome.status == SentEmail.Status.FAILED == email.status
    assert (email.attempts, email.attempted_at) == (3, WHEN)
    assert "a bug in the template" in email.error
    built = [r for r in caplog.records if "could not be built" in r.getMessage()]
    assert [(r.getMessage(), r.email_id) for r in built] == [
        (f"Email {email.pk} (dpo_summary) could not be built.", email.pk)
    ]


def test_a_sent_email_records_its_attempt_at_that_instant_and_its_subject_cut_to_fit(monkeypatch):
    """What the row keeps of a message the mail server took: the instant it was tried and
    sent, the address, and the subject cut to the column's 255 characters (PostgreSQL would
    refuse one character more), while the message itself goes out whole."""
    email = pending_email()
    subject = "Weekly summary " + "x" * 300
    monkeypatch.setitem(
        outbox.BUILDERS,
        SentEmail.Kind.DPO_SUMMARY,
        lambda email, *, to, now: (EmailMessage(subject, "Body", to=[to]), ""),
    )
    outcome = outbox.sentemail_send(sent_email_id=email.pk, now=WHEN)
    email.refresh_from_db()
    assert outcome.status == SentEmail.Status.SENT == email.status
    assert (email.attempts, email.attempted_at, email.sent_at) == (1, WHEN, WHEN)
    assert email.subject == subject[:255] and len(email.subject) == 255
    assert [m.subject for m in mail.outbox] == [subject]
    assert mail.outbox[0].message()["Message-ID"] == outbox.message_id(email)  # as the server gets it
    assert reasons(email)[-1] == "Sent"


def test_an_email_no_longer_needed_is_cancelled_and_its_history_says_why(monkeypatch):
    email = pending_email()
    monkeypatch.setitem(
        outbox.BUILDERS, SentEmail.Kind.DPO_SUMMARY, lambda email, *, to, now: (None, "nothing left to report")
    )
    outcome = outbox.sentemail_send(sent_email_id=email.pk, now=WHEN)
    email.refresh_from_db()
    assert outcome.status == SentEmail.Status.CANCELLED == email.status
    assert (email.error, email.retry_later, email.attempts) == ("nothing left to report", False, 0)
    assert reasons(email)[-1] == "Not sent: nothing left to report"
    assert not mail.outbox
