"""The retention schedule (R18): with the periods shortened, old records go, a hold's stay, the
disposal record says what went, and the ledger still verifies (and still catches an edit)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from attestations import calendar, ledger, retention
from attestations.models import (
    CalendarFeed,
    Cycle,
    CycleCount,
    DisposalRecord,
    Flag,
    Hold,
    LedgerCheckpoint,
    LedgerEntry,
    Obligation,
    SentEmail,
)
from groups.models import StaffProfile
from tests import factories
from tests.retention.conftest import NOW, SCHEDULE, attest

User = get_user_model()


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
    assert set(records) == {"clear_downs", "emails", "flags", "holds", "export_logs", "sign_ins", "calendar_feeds"}
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
    assert {r.kind for r in run.records} == {"holds", "export_logs", "sign_ins", "calendar_feeds"}
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


@pytest.mark.django_db
def test_an_attestation_after_the_newest_entries_went_chains_onto_the_checkpoint(world, dpo):
    Hold.objects.filter(lifted_at__isnull=True).update(lifted_at=NOW - dt.timedelta(days=100), lifted_by=dpo)
    retention.retention_run(now=NOW + dt.timedelta(days=120))  # everything, this month's entry too
    assert not LedgerEntry.objects.exists()
    [checkpoint] = LedgerCheckpoint.objects.all()
    assert (checkpoint.first_sequence, checkpoint.last_sequence) == (1, 9)
    later = factories.CycleFactory(period_end=NOW + dt.timedelta(days=7))
    fresh = attest(later, factories.UserFactory(), when=later.due_at - dt.timedelta(hours=1))
    entry = LedgerEntry.objects.get(obligation=fresh)
    assert entry.sequence == 10 and entry.prev_hash == checkpoint.hash
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 1 and verdict.disposed == 9
    assert ledger.ledger_anchor() == ledger.Anchor(count=10, hash=entry.hash)


@pytest.mark.django_db
def test_a_closed_accounts_calendar_feed_goes_a_period_after_the_closing(schedule, time_machine):
    time_machine.move_to(NOW, tick=False)
    people = {name: factories.UserFactory(username=name) for name in ("active", "left_long_ago", "just_left")}
    for person in people.values():
        calendar.calendar_feed_create(user=person)
    for name, days in (("left_long_ago", 31), ("just_left", 29)):
        User.objects.filter(pk=people[name].pk).update(is_active=False)
        StaffProfile.objects.create(user=people[name], deactivated_at=NOW - dt.timedelta(days=days))
    [record] = [r for r in retention.retention_run().records if r.kind == "calendar_feeds"]
    assert record.count == 1 and record.rule == "Calendar feeds: 30 days after the closing of the person's account"
    assert set(CalendarFeed.objects.values_list("user__username", flat=True)) == {"active", "just_left"}
