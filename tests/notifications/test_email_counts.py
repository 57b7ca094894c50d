"""The emails page's counts by kind and status (`SentEmailCount`) follow every write to the
emails, by any path (triggers), and a migration fills them from the emails already there."""

import datetime as dt
import itertools

import pytest
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.db import connection

from attestations import outbox, retention
from attestations.dashboard import email_counts
from attestations.models import SentEmail, SentEmailCount
from tests.conftest import run_at_once, service_missing
from tests.factories import UserFactory
from tests.migrate import migrate_to
from tests.notifications.conftest import DUE, MINUTES_15, PERIOD_END
from tests.retention.conftest import NOW as RETENTION_NOW
from tests.retention.conftest import schedule, world  # noqa: F401 - fixtures used by name

pytestmark = pytest.mark.django_db

Kind, Status = SentEmail.Kind, SentEmail.Status
_keys = itertools.count()


def counted(**expected: int) -> bool:
    """The stored counts are `expected` ("kind__status": n; others 0), and agree with a recount."""
    stored = {f"{c.kind}__{c.status}": c.n for c in SentEmailCount.objects.all() if c.n}
    assert stored == expected
    assert email_counts.email_counts_check() == []
    return True


def row(kind: str = Kind.REMINDER, **fields) -> SentEmail:
    """An email not yet saved, pending, to a member with an address."""
    return SentEmail(
        key=f"count-test-{next(_keys)}", kind=kind, to_address="member@example.org", created_at=DUE, **fields
    )


def builds(monkeypatch, *kinds: str) -> None:
    """Emails of these kinds are built as a plain message (the real builders need a week's data)."""
    for kind in kinds:
        monkeypatch.setitem(
            outbox.BUILDERS, kind, lambda email, *, to, now: (EmailMultiAlternatives("Subject", "Body", to=[to]), "")
        )


def test_every_trigger_is_there_after_all_the_migrations():
    assert email_counts.email_counts_triggers_missing() == []


def test_recording_sending_failing_cancelling_and_requeuing_move_the_counts(monkeypatch):
    builds(monkeypatch, Kind.REMINDER)
    ids = outbox.outbox_add([row(), row(), row(), row(Kind.ADMIN_DIGEST)], queue=False)
    assert counted(reminder__pending=3, admin_digest__pending=1)

    assert outbox.sentemail_send(sent_email_id=ids[0], now=DUE).status == Status.SENT
    assert counted(reminder__pending=2, reminder__sent=1, admin_digest__pending=1)
    # A digest that cannot be built (a bug, say) fails for good.
    monkeypatch.setitem(outbox.BUILDERS, Kind.ADMIN_DIGEST, lambda email, *, to, now: 1 / 0)
    assert outbox.sentemail_send(sent_email_id=ids[3], now=DUE).status == Status.FAILED
    assert counted(reminder__pending=2, reminder__sent=1, admin_digest__failed=1)
    # No address: not sent, for now.
    SentEmail.objects.filter(pk=ids[1]).update(to_address="", user=UserFactory(email=""))
    assert outbox.sentemail_send(sent_email_id=ids[1], now=DUE).status == Status.CANCELLED
    assert counted(reminder__pending=1, reminder__sent=1, reminder__cancelled=1, admin_digest__failed=1)

    # Queued again, an email sent twice, a field that is not counted: nothing moves.
    assert outbox.emails_requeue(now=DUE + dt.timedelta(days=1)) == [ids[2]]
    assert outbox.sentemail_send(sent_email_id=ids[0], now=DUE).status is None
    SentEmail.objects.update(attempts=7)
    assert counted(reminder__pending=1, reminder__sent=1, reminder__cancelled=1, admin_digest__failed=1)


def test_the_sweep_and_its_sends_are_counted(group, sweep_at):
    sweep_at(PERIOD_END + MINUTES_15)  # the week closes
    sweep_at(DUE + MINUTES_15)  # overdue: a digest to the admin, sent there and then
    expected = SentEmail.objects.values_list("kind", "status")
    assert (Kind.ADMIN_DIGEST, Status.SENT) in expected
    assert counted(**{f"{k}__{s}": list(expected).count((k, s)) for k, s in set(expected)})


def test_bulk_writes_queryset_updates_and_deletes_are_counted_too():
    SentEmail.objects.bulk_create([row(), row(), row(Kind.DPO_SUMMARY), row(Kind.DPO_SUMMARY)])
    assert counted(reminder__pending=2, dpo_summary__pending=2)
    SentEmail.objects.filter(kind=Kind.REMINDER).update(status=Status.FAILED)
    assert counted(reminder__failed=2, dpo_summary__pending=2)
    # Kind and status at once, and rows of two pairs in one statement.
    SentEmail.objects.update(kind=Kind.HOLD_NOTICE, status=Status.CANCELLED)
    assert counted(hold_notice__cancelled=4)
    first = SentEmail.objects.order_by("pk").first()
    SentEmail.objects.filter(pk=first.pk).update(status=Status.SENT, sent_at=DUE)
    assert counted(hold_notice__cancelled=3, hold_notice__sent=1)
    SentEmail.objects.filter(pk=first.pk).delete()
    assert counted(hold_notice__cancelled=3)
    SentEmail.objects.all().delete()
    assert counted()


def test_retention_disposal_takes_the_emails_it_deletes_off_the_counts(world):  # noqa: F811 - the fixture
    assert counted(reminder__sent=4)
    retention.retention_run(now=RETENTION_NOW)
    # The old reminder and the old summary went; the held group's and this month's stay.
    assert set(SentEmail.objects.values_list("pk", flat=True)) == {world["held_email"].pk, world["recent_email"].pk}
    assert counted(reminder__sent=2)


def test_counts_changed_behind_the_portal_are_found_and_rebuilt(capsys):
    SentEmail.objects.bulk_create([row(), row(Kind.PROMPT)])
    call_command("email_counts")
    assert "agree" in capsys.readouterr().out
    with connection.cursor() as cursor:
        cursor.execute("UPDATE attestations_sentemailcount SET n = 5 WHERE kind = 'reminder'")
        cursor.execute("DELETE FROM attestations_sentemailcount WHERE kind = 'prompt'")
        cursor.execute("INSERT INTO attestations_sentemailcount (kind, status, n) VALUES ('prompt', 'sent', 2)")
    assert email_counts.email_counts_check() == [("prompt", "pending"), ("prompt", "sent"), ("reminder", "pending")]
    with pytest.raises(SystemExit) as exit_:
        call_command("email_counts")
    assert exit_.value.code == 1
    assert "3 counts disagree with the emails: prompt pending, prompt sent, reminder pending" in capsys.readouterr().err
    call_command("email_counts", "--rebuild")
    assert counted(reminder__pending=1, prompt__pending=1)


def test_the_command_puts_back_triggers_that_were_dropped(capsys):
    email_counts.email_counts_triggers_uninstall()
    assert email_counts.email_counts_triggers_missing() == list(email_counts.TRIGGERS)
    call_command("email_counts", "--rebuild")
    assert "Triggers missing" in capsys.readouterr().err
    assert email_counts.email_counts_triggers_missing() == []
    SentEmail.objects.bulk_create([row()])
    assert counted(reminder__pending=1)


@pytest.mark.django_db(transaction=True)
def test_workers_sending_and_sweeps_recording_at_once_neither_deadlock_nor_miscount(monkeypatch):
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL for concurrent transactions (set DATABASE_URL)")
    builds(monkeypatch, Kind.REMINDER, Kind.PROMPT)
    ids = outbox.outbox_add([row(kind) for kind in (Kind.REMINDER, Kind.PROMPT) * 6], queue=False)

    def send(pk):
        return lambda: outbox.sentemail_send(sent_email_id=pk, now=DUE)

    def record(kinds):
        # Pairs of two kinds in one statement, each "sweep" listing them in its own order.
        return lambda: outbox.outbox_add([row(kind) for kind in kinds], queue=False)

    recorded = [record([Kind.PROMPT, Kind.REMINDER]), record([Kind.REMINDER, Kind.PROMPT])] * 4
    calls = [send(pk) for pk in ids] + recorded
    assert run_at_once(*calls) == ["ok"] * len(calls)
    assert counted(reminder__sent=6, prompt__sent=6, reminder__pending=8, prompt__pending=8)


# --- The migration ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_emails_an_office_already_has():
    apps = migrate_to([("attestations", "0018_sent_email_page_indexes")])
    try:
        Old = apps.get_model("attestations", "SentEmail")
        for i, (kind, status) in enumerate(
            [("reminder", "sent")] * 3 + [("reminder", "failed"), ("prompt", "pending"), ("dpo_summary", "cancelled")]
        ):
            Old.objects.create(
                key=f"old-{i}", kind=kind, status=status, created_at=DUE, sent_at=DUE if status == "sent" else None
            )
    finally:
        migrate_to()
    assert email_counts.email_counts_triggers_missing() == []
    assert counted(reminder__sent=3, reminder__failed=1, prompt__pending=1, dpo_summary__cancelled=1)
    SentEmail.objects.filter(key="old-4").update(status=Status.SENT, sent_at=DUE)  # and it keeps them
    assert counted(reminder__sent=3, reminder__failed=1, prompt__sent=1, dpo_summary__cancelled=1)
