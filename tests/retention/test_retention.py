"""The retention schedule (R18): with the periods shortened, old records go, a hold's stay, the
disposal record says what went, and the ledger still verifies (and still catches an edit)."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessLog
from django.core.management import call_command
from django.db import connection

from attestations import ledger, retention, services
from attestations.models import (
    Cycle,
    CycleCount,
    DisposalRecord,
    ExportLog,
    Flag,
    Hold,
    LedgerCheckpoint,
    LedgerEntry,
    Obligation,
    SentEmail,
)
from tests import factories

OLD = dt.datetime(2026, 1, 12, 10, tzinfo=dt.UTC)  # a Monday in January
NOW = dt.datetime(2026, 11, 16, 10, tzinfo=dt.UTC)  # ten months later
SCHEDULE = {
    "clear_downs": 90,
    "emails": 60,
    "flags": 60,
    "holds": 90,
    "register_history": None,
    "export_logs": 90,
    "sign_ins": 30,
}


def attest(cycle, user, *, when):
    obligation = factories.ObligationFactory(cycle=cycle, user=user)
    services.obligation_attest(
        obligations=[obligation],
        user=user,
        cleared_on=cycle.period_end.date(),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=when,
    )
    obligation.refresh_from_db()
    return obligation


def email(*, when, **fields):
    return SentEmail.objects.create(
        key=f"k{SentEmail.objects.count()}",
        kind=SentEmail.Kind.REMINDER,
        to_address="someone@example.org",
        subject="A reminder",
        created_at=when,
        status=SentEmail.Status.SENT,
        sent_at=when,
        **fields,
    )


@pytest.fixture
def schedule(settings):
    settings.RETENTION = dict(SCHEDULE)
    settings.RETENTION_BATCH_SIZE = 2  # several batches, even in a small test
    return settings


@pytest.fixture
def world(time_machine, schedule, dpo):
    """Two groups with old and recent clear-downs, attested in turn so their ledger entries
    interleave; the second group is under a standing hold."""
    time_machine.move_to(OLD, tick=False)
    kept_group = factories.ChatGroupFactory(name="Held group")
    gone_group = factories.ChatGroupFactory(name="Plain group")
    people = [factories.UserFactory() for _ in range(2)]
    old = {}
    for week in range(2):
        end = OLD + dt.timedelta(days=7 * week)
        for group in (gone_group, kept_group):
            cycle = factories.CycleFactory(group=group, period_end=end)
            old[(group.name, week)] = [attest(cycle, p, when=cycle.due_at - dt.timedelta(hours=1)) for p in people]
    old_gone = old[("Plain group", 0)] + old[("Plain group", 1)]
    oldest_due = old_gone[0].cycle.due_at
    # An unattested old week, its flag (settled) and the emails about it.
    overdue_cycle = factories.CycleFactory(group=gone_group, period_end=OLD + dt.timedelta(days=14))
    overdue = factories.ObligationFactory(cycle=overdue_cycle, user=people[0])
    flag = factories.FlagFactory(
        cycle=overdue_cycle,
        user=people[0],
        raised_at=OLD + dt.timedelta(days=17),
        resolved_at=OLD + dt.timedelta(days=18),
    )
    reminder = email(when=OLD + dt.timedelta(days=15), group=gone_group, cycle=overdue_cycle, obligation=overdue)
    held_email = email(when=OLD + dt.timedelta(days=15), group=kept_group)
    summary = email(when=OLD + dt.timedelta(days=15))
    held_flag = factories.FlagFactory(
        cycle=old[("Held group", 0)][0].cycle,
        user=people[0],
        raised_at=OLD + dt.timedelta(days=3),
        resolved_at=OLD + dt.timedelta(days=4),
    )
    old_export = ExportLog.objects.create(user=dpo, kind="register", format="csv", started_at=OLD)
    old_sign_in = AccessLog.objects.create(username="someone", ip_address="10.0.0.1", attempt_time=OLD)
    # A lifted hold on the plain group, long ago; a standing one on the other.
    old_hold = factories.HoldFactory(group=gone_group, placed_by=dpo, placed_at=OLD)
    Hold.objects.filter(pk=old_hold.pk).update(lifted_at=OLD + dt.timedelta(days=1), lifted_by=dpo)
    factories.HoldFactory(group=kept_group, placed_by=dpo, placed_at=OLD + dt.timedelta(days=30))
    # This month: nothing of it may go.
    time_machine.move_to(NOW, tick=False)
    recent_cycle = factories.CycleFactory(group=gone_group, period_end=NOW - dt.timedelta(days=3))
    recent = attest(recent_cycle, people[1], when=NOW - dt.timedelta(hours=2))
    recent_email = email(when=NOW - dt.timedelta(days=1), group=gone_group)
    return {
        "old_gone": old_gone,
        "oldest_due": oldest_due,
        "old_kept": old[("Held group", 0)] + old[("Held group", 1)],
        "overdue": overdue,
        "flag": flag,
        "held_flag": held_flag,
        "reminder": reminder,
        "held_email": held_email,
        "summary": summary,
        "old_export": old_export,
        "old_sign_in": old_sign_in,
        "old_hold": old_hold,
        "recent": recent,
        "recent_email": recent_email,
    }


def exists(obj) -> bool:
    return type(obj).objects.filter(pk=obj.pk).exists()


@pytest.mark.django_db
def test_it_disposes_of_old_records_and_keeps_what_a_hold_covers(world):
    assert ledger.ledger_verify().ok
    retention.retention_run()

    assert not any(exists(o) for o in world["old_gone"]) and not exists(world["overdue"])
    assert not Cycle.objects.filter(group__name="Plain group", period_end__lt=NOW - dt.timedelta(days=90)).exists()
    assert not exists(world["flag"]) and not exists(world["reminder"]) and not exists(world["summary"])
    assert not exists(world["old_export"]) and not exists(world["old_sign_in"]) and not exists(world["old_hold"])
    # The held group's records stay whatever their age, and so does everything recent.
    assert all(exists(o) for o in world["old_kept"])
    assert exists(world["held_flag"]) and exists(world["held_email"])
    assert exists(world["recent"]) and exists(world["recent_email"])
    # Nothing dangles and no history row was written about a row disposed of.
    ids = [o.pk for o in world["old_gone"]]
    assert not Obligation.history.filter(id__in=ids).exists()
    assert not CycleCount.objects.exclude(cycle__in=Cycle.objects.all()).exists()
    assert not SentEmail.flags.through.objects.filter(flag_id=world["flag"].pk).exists()


@pytest.mark.django_db
def test_the_disposal_record_says_what_went_under_which_rule(world):
    run = retention.retention_run()
    records = {r.kind: r for r in DisposalRecord.objects.filter(run_started_at=run.started_at)}
    assert set(records) == {"clear_downs", "emails", "flags", "holds", "export_logs", "sign_ins"}
    clear_downs = records["clear_downs"]
    assert not clear_downs.dry_run and clear_downs.period_days == 90
    assert clear_downs.cutoff == NOW - dt.timedelta(days=90)
    assert clear_downs.rule == "Clear-downs and attestations: 90 days after the week's deadline"
    assert clear_downs.details["obligations"] == 5 and clear_downs.details["cycles"] == 3
    assert clear_downs.details["ledger entries"] == 4 and "flags" not in clear_downs.details
    assert clear_downs.count == 8
    # The held group's two weeks (four obligations) are past their time and kept.
    assert clear_downs.held_back == 4 + 2
    assert clear_downs.oldest == world["oldest_due"]
    assert clear_downs.batches >= 3  # two at a time
    # Emails and flags go under their own rules first: the held group's stay.
    assert records["emails"].count == 2 and records["emails"].held_back == 1
    assert records["flags"].count == 1 and records["flags"].held_back == 1
    assert records["holds"].count == 1 and records["sign_ins"].details["sign-in records"] == 1


@pytest.mark.django_db
def test_a_dry_run_says_what_would_go_and_removes_nothing(world, capsys):
    before = Obligation.objects.count()
    call_command("retention", "--dry-run")
    out = capsys.readouterr().out
    assert "clear_downs: would dispose of 8 (5 obligations, 4 ledger entries, 3 cycles)" in out
    assert "6 past their time kept by a hold" in out
    assert "Dry run: nothing was removed" in out
    assert Obligation.objects.count() == before and LedgerEntry.objects.count() == 9
    record = DisposalRecord.objects.get(kind="clear_downs")
    assert record.dry_run and record.count == 8
    # The real run then disposes of exactly what the dry run announced.
    retention.retention_run(now=NOW + dt.timedelta(seconds=1))
    assert DisposalRecord.objects.get(kind="clear_downs", dry_run=False).count == 8


@pytest.mark.django_db
def test_a_second_run_finds_nothing_more(world):
    retention.retention_run()
    again = retention.retention_run(now=NOW + dt.timedelta(minutes=1))
    assert [r.count for r in again.records] == [0] * len(again.records)


@pytest.mark.django_db
def test_a_kind_without_a_period_is_never_disposed_of(world, settings):
    settings.RETENTION = {**SCHEDULE, "clear_downs": None, "emails": None, "flags": None}
    run = retention.retention_run()
    assert {r.kind for r in run.records} == {"holds", "export_logs", "sign_ins"}
    assert all(exists(o) for o in world["old_gone"]) and exists(world["summary"])


@pytest.mark.django_db
def test_the_ledger_verifies_from_its_checkpoints_after_disposal(world, capsys):
    retention.retention_run()
    # Entries 1..8 alternate between the groups, two a week: the plain group's 1, 2, 5, 6
    # went; the held group's 3, 4, 7, 8 and this month's 9 stay.
    assert list(LedgerEntry.objects.values_list("sequence", flat=True)) == [3, 4, 7, 8, 9]
    checkpoints = list(LedgerCheckpoint.objects.values_list("first_sequence", "last_sequence"))
    assert checkpoints == [(1, 2), (5, 6)]
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 5 and verdict.disposed == 4
    call_command("verify_ledger")
    out = capsys.readouterr().out
    assert "Ledger intact: 5 entries" in out
    assert "Checked from the checkpoints on: 4 earlier entries were disposed of under the retention schedule" in out


@pytest.mark.django_db
def test_after_disposal_an_edited_attestation_still_breaks_the_chain(world, capsys):
    retention.retention_run()
    kept = world["old_kept"][1]
    Obligation.objects.filter(pk=kept.pk).update(cleared_on=kept.cleared_on - dt.timedelta(days=1))
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.obligation_id == kept.pk
    assert "its hash does not match the attestation" in verdict.problem
    with pytest.raises(SystemExit):
        call_command("verify_ledger")


@pytest.mark.django_db
def test_an_edited_checkpoint_or_an_entry_deleted_without_one_breaks_the_chain(world):
    retention.retention_run()
    LedgerCheckpoint.objects.filter(first_sequence=5).update(hash="f" * 64)
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.sequence == 7 and "previous-hash does not match" in verdict.problem
    LedgerCheckpoint.objects.filter(first_sequence=5).update(prev_hash="e" * 64)
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.sequence == 5 and "does not chain onto entry #4" in verdict.problem
    LedgerCheckpoint.objects.filter(first_sequence=5).delete()
    verdict = ledger.ledger_verify()
    assert not verdict.ok and "entry #5 is missing" in verdict.problem


@pytest.mark.django_db
def test_neighbouring_runs_disposed_of_later_join_one_checkpoint(world, dpo):
    retention.retention_run()
    # The hold turns out to have been lifted more than a period ago: its group's weeks go too.
    Hold.objects.filter(lifted_at__isnull=True).update(lifted_at=NOW - dt.timedelta(days=100), lifted_by=dpo)
    retention.retention_run(now=NOW + dt.timedelta(minutes=1))
    # Every old entry has gone now: one checkpoint for 1..8, then the recent entry.
    assert list(LedgerCheckpoint.objects.values_list("first_sequence", "last_sequence")) == [(1, 8)]
    assert list(LedgerEntry.objects.values_list("sequence", flat=True)) == [9]
    assert ledger.ledger_verify().ok


@pytest.mark.django_db
def test_verify_ledger_expect_accepts_the_anchor_and_rejects_a_changed_one(world, capsys):
    anchor = ledger.ledger_anchor()
    assert anchor.count == 9
    retention.retention_run()
    call_command("verify_ledger", "--expect", anchor.hash)
    assert f"The anchor {anchor.hash} is entry #9: the chain up to it is intact." in capsys.readouterr().out
    changed = ("0" if anchor.hash[0] != "0" else "1") + anchor.hash[1:]
    with pytest.raises(SystemExit):
        call_command("verify_ledger", "--expect", changed)
    err = capsys.readouterr().err
    assert f"the anchor {changed} is not the hash of any entry or checkpoint" in err


@pytest.mark.django_db
def test_an_anchor_that_is_now_a_checkpoint_is_still_reached(world):
    second = LedgerEntry.objects.get(sequence=2).hash  # the last of a run that will go
    retention.retention_run()
    verdict = ledger.ledger_verify(expect=second)
    assert verdict.ok and verdict.expected_at == 2 and verdict.checkpoints[0].last_sequence == 2


@pytest.mark.django_db
def test_a_rewritten_ledger_fails_against_the_anchor(world):
    """An insider who rewrites an attestation and every hash after it makes a chain that agrees
    with itself; only the anchor kept outside shows it."""
    anchor = ledger.ledger_anchor()
    target = world["recent"]
    Obligation.objects.filter(pk=target.pk).update(cleared_on=target.cleared_on - dt.timedelta(days=1))
    entry = LedgerEntry.objects.get(obligation=target)
    target.refresh_from_db()
    forged = ledger.entry_hash(
        sequence=entry.sequence, prev_hash=entry.prev_hash, payload=ledger.attestation_payload(target)
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE attestations_ledgerentry SET hash = %s WHERE id = %s", [forged, entry.pk])
    assert ledger.ledger_verify().ok
    verdict = ledger.ledger_verify(expect=anchor.hash)
    assert not verdict.ok and "ledger was rewritten" in verdict.problem


@pytest.mark.django_db
def test_verify_ledger_expect_refuses_what_is_not_a_hash():
    with pytest.raises(Exception, match="64 hexadecimal characters"):
        call_command("verify_ledger", "--expect", "not-a-hash")


@pytest.mark.django_db
def test_a_flag_settled_long_ago_goes_before_its_week(schedule, time_machine):
    time_machine.move_to(NOW, tick=False)
    cycle = factories.CycleFactory(period_end=NOW - dt.timedelta(days=80))
    settled = factories.FlagFactory(
        cycle=cycle, raised_at=NOW - dt.timedelta(days=77), resolved_at=NOW - dt.timedelta(days=70)
    )
    still_open = factories.FlagFactory(cycle=cycle, raised_at=NOW - dt.timedelta(days=77))
    retention.retention_run()
    assert not exists(settled) and exists(still_open) and exists(cycle)
    assert Flag.history.filter(id=settled.pk).count() == 0


@pytest.mark.django_db
def test_the_plan_counts_what_the_run_then_disposes_of(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(40):
        plan = {f.kind: f for f in retention.retention_plan(now=NOW)}
    assert plan["clear_downs"].count == 8 and plan["register_history"].disposes is False
    run = {r.kind: r for r in retention.retention_run().records}
    assert {k: f.count for k, f in plan.items() if f.disposes} == {k: r.count for k, r in run.items()}
