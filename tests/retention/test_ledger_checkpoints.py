"""Disposing of ledger entries onto checkpoints (`ledger.ledger_dispose`), taken alone: each run
of consecutive entries becomes one checkpoint, whatever its length; runs that meet are joined;
and what `verify_ledger` says about a ledger checked across them, word for word."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from attestations import ledger
from attestations.models import LedgerCheckpoint, LedgerEntry, Obligation
from tests import factories
from tests.retention.conftest import NOW, attest

LATER = NOW + dt.timedelta(days=1)


@pytest.fixture
def chain(time_machine):
    """Eight attestations, one a week: ledger entries #1 to #8, in order."""
    time_machine.move_to(NOW, tick=False)
    group, person = factories.ChatGroupFactory(), factories.UserFactory()
    entries = []
    for week in range(8):
        cycle = factories.CycleFactory(group=group, period_end=NOW - dt.timedelta(days=7 * (10 - week)))
        obligation = attest(cycle, person, when=cycle.due_at - dt.timedelta(hours=1))
        entries.append(LedgerEntry.objects.get(obligation=obligation))
    assert [e.sequence for e in entries] == list(range(1, 9))
    return {e.sequence: e for e in entries}


def dispose(chain, *sequences, now=NOW) -> tuple[int, int]:
    """Dispose of these entries and their attestations, as the retention run does: (entries gone, queries)."""
    ids = [chain[s].obligation_id for s in sequences]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        gone = ledger.ledger_dispose(obligation_ids=ids, now=now)
    Obligation.objects.filter(pk__in=ids).delete()
    return gone, len(queries)


def checkpoints() -> list[tuple]:
    return list(
        LedgerCheckpoint.objects.order_by("first_sequence").values_list(
            "first_sequence", "last_sequence", "prev_hash", "hash", "disposed_at", "extended_at"
        )
    )


@pytest.mark.django_db
def test_each_run_of_consecutive_entries_becomes_one_checkpoint(chain):
    assert dispose(chain, 2, 3, 5)[0] == 3
    assert checkpoints() == [
        (2, 3, chain[2].prev_hash, chain[3].hash, NOW, None),
        (5, 5, chain[5].prev_hash, chain[5].hash, NOW, None),
    ]
    assert list(LedgerEntry.objects.order_by("sequence").values_list("sequence", flat=True)) == [1, 4, 6, 7, 8]
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 5 and verdict.disposed == 3


@pytest.mark.django_db
def test_a_long_run_costs_the_queries_of_a_short_one(chain):
    """One checkpoint written per run, not one per entry joined onto the one before."""
    _, one_entry = dispose(chain, 2)
    _, three_entries = dispose(chain, 4, 5, 6)
    assert three_entries == one_entry
    assert [c[:2] for c in checkpoints()] == [(2, 2), (4, 6)]


@pytest.mark.django_db
def test_a_run_that_meets_checkpoints_on_both_sides_joins_them(chain):
    dispose(chain, 2, 3, 5)
    assert dispose(chain, 4, now=LATER)[0] == 1
    assert checkpoints() == [(2, 5, chain[2].prev_hash, chain[5].hash, NOW, LATER)]
    assert ledger.ledger_verify().ok


@pytest.mark.django_db
def test_nothing_to_dispose_of_writes_nothing(chain):
    assert dispose(chain)[0] == 0
    assert checkpoints() == [] and LedgerEntry.objects.count() == 8


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_dispose_outside_the_disposals_transaction(chain):
    # In autocommit the entries would go at once, and the checkpoint apart from them.
    with pytest.raises(RuntimeError, match=r"^ledger_dispose must run inside the disposal's transaction$"):
        ledger.ledger_dispose(obligation_ids=[chain[1].obligation_id], now=NOW)
    assert LedgerEntry.objects.count() == 8


@pytest.mark.django_db
def test_the_verdict_names_the_runs_it_stepped_over_and_the_anchor(chain):
    dispose(chain, 2, 3, 5, now=LATER)  # a day other than the clock's: the date is the disposal's
    verdict = ledger.ledger_verify(expect=chain[4].hash)
    assert str(verdict) == (
        f"Ledger intact: 5 entries (5 with payload v2), head {chain[8].hash}. Checked from the checkpoints on: "
        "3 earlier entries were disposed of under the retention schedule (#2–#3 (disposed of 17 Nov 2026), "
        "#5–#5 (disposed of 17 Nov 2026)); their last hashes are kept and the entries after them chain onto "
        f"them. The anchor {chain[4].hash} is entry #4: the chain up to it is intact."
    )


@pytest.mark.django_db
def test_a_break_at_no_attestation_names_none(chain):
    LedgerCheckpoint.objects.create(
        first_sequence=20, last_sequence=21, prev_hash="0" * 64, hash="1" * 64, disposed_at=NOW
    )
    assert str(ledger.ledger_verify()) == (
        "Ledger BROKEN at entry #20: the checkpoint of disposed entries #20–#21 joins nothing in the chain: "
        "entries were renumbered or a checkpoint was added"
    )


@pytest.mark.django_db
def test_a_run_that_meets_a_checkpoint_after_it_joins_it_as_an_extension(chain):
    dispose(chain, 5)
    dispose(chain, 4, now=LATER)
    assert checkpoints() == [(4, 5, chain[4].prev_hash, chain[5].hash, LATER, LATER)]
    assert ledger.ledger_verify().ok


@pytest.mark.django_db
def test_a_run_that_meets_a_checkpoint_before_it_extends_it(chain):
    dispose(chain, 2, 3)
    dispose(chain, 4, now=LATER)
    assert checkpoints() == [(2, 4, chain[2].prev_hash, chain[4].hash, NOW, LATER)]
    assert ledger.ledger_verify().ok


@pytest.mark.django_db
def test_the_anchor_is_the_checkpoint_when_the_newest_entries_went(chain):
    dispose(chain, 7, 8)
    assert ledger.ledger_anchor() == ledger.Anchor(count=8, hash=chain[8].hash)
    # As the chain stood when #6 was recorded, before #7 and #8 were made: #6, not the checkpoint.
    assert ledger.ledger_anchor(at=chain[6].recorded_at) == ledger.Anchor(count=6, hash=chain[6].hash)


@pytest.mark.django_db
def test_the_anchor_of_a_ledger_whose_every_entry_went_is_its_last_checkpoint(chain):
    dispose(chain, 1, 2, 3)
    dispose(chain, 5, 6, 7, 8)
    dispose(chain, 4, now=LATER)
    assert not LedgerEntry.objects.exists()
    assert ledger.ledger_anchor() == ledger.Anchor(count=8, hash=chain[8].hash)
    assert ledger.ledger_verify().ok


def broken(**fields) -> ledger.Verdict:
    return ledger.Verdict(ok=False, **fields)


@pytest.mark.django_db
def test_an_anchor_on_a_checkpoint_in_the_middle_is_found_there(chain):
    dispose(chain, 2, 3)
    verdict = ledger.ledger_verify(expect=chain[3].hash)
    assert verdict.ok and verdict.expected_at == 3


@pytest.mark.django_db
def test_an_anchor_on_the_last_checkpoint_is_found_there(chain):
    dispose(chain, 7, 8)
    verdict = ledger.ledger_verify(expect=chain[8].hash)
    assert verdict.ok and verdict.expected_at == 8 and verdict.checked == 6


@pytest.mark.django_db
def test_a_checkpoint_in_the_middle_that_does_not_chain_on_is_reported_whole(chain):
    dispose(chain, 2, 3)
    LedgerCheckpoint.objects.update(prev_hash="f" * 64)
    assert ledger.ledger_verify(expect=chain[8].hash) == broken(
        checked=1,
        head=chain[1].hash,
        sequence=2,
        problem=(
            "the checkpoint of disposed entries #2–#3 does not chain onto entry #1: the checkpoint or the entry "
            "before it was edited"
        ),
        expected=chain[8].hash,
    )


@pytest.mark.django_db
def test_the_last_checkpoint_not_chaining_on_is_reported_whole(chain):
    dispose(chain, 7, 8)
    LedgerCheckpoint.objects.update(prev_hash="f" * 64)
    assert ledger.ledger_verify() == broken(
        checked=6,
        head=chain[6].hash,
        sequence=7,
        problem=(
            "the checkpoint of disposed entries #7–#8 does not chain onto entry #6: the checkpoint or the entry "
            "before it was edited"
        ),
    )


@pytest.mark.django_db
def test_a_break_after_a_checkpoint_names_the_checkpoints_it_stepped_over(chain):
    dispose(chain, 2, 3)
    LedgerEntry.objects.filter(sequence=4).update(prev_hash="f" * 64)
    [checkpoint] = LedgerCheckpoint.objects.all()
    assert ledger.ledger_verify() == broken(
        checked=1,
        head=chain[3].hash,
        sequence=4,
        obligation_id=chain[4].obligation_id,
        problem="its previous-hash does not match the hash of entry #3: an entry was edited or reordered",
        checkpoints=[checkpoint],
    )


@pytest.mark.django_db
def test_a_missing_entry_names_the_attestation_of_the_entry_after_the_gap(chain):
    LedgerEntry.objects.filter(sequence=5).delete()
    Obligation.objects.filter(pk=chain[5].obligation_id).delete()
    assert ledger.ledger_verify() == broken(
        checked=4,
        head=chain[4].hash,
        sequence=5,
        obligation_id=chain[6].obligation_id,
        problem="entry #5 is missing (the next entry is #6): deleted or renumbered",
    )


@pytest.mark.django_db
def test_an_anchor_on_the_last_entry_standing_before_a_checkpoint_is_found_there(chain):
    dispose(chain, 7, 8)
    verdict = ledger.ledger_verify(expect=chain[6].hash)
    assert verdict.ok and verdict.expected_at == 6


@pytest.mark.django_db
def test_an_unknown_payload_version_names_its_attestation(chain):
    LedgerEntry.objects.filter(sequence=4).update(payload_version=9)
    assert ledger.ledger_verify() == broken(
        checked=3,
        head=chain[3].hash,
        sequence=4,
        obligation_id=chain[4].obligation_id,
        problem="its payload version 9 is unknown: the entry was edited",
    )


@pytest.mark.django_db
def test_an_anchor_not_in_the_chain_says_which_entries_went_since(chain):
    dispose(chain, 2, 3, 5, 7)  # three runs: from the first one's first entry to the last one's last
    unknown = "a" * 64
    assert str(ledger.ledger_verify(expect=unknown)) == (
        f"Ledger check FAILED: the anchor {unknown} is not the hash of any entry or checkpoint in the chain "
        "(entries #2–#7 were disposed of since): either it was copied wrongly, or the ledger was rewritten since "
        "the anchor was taken."
    )


@pytest.mark.django_db
def test_an_anchor_not_in_a_chain_nothing_went_from_says_no_more():
    unknown = "a" * 64
    assert str(ledger.ledger_verify(expect=unknown)) == (
        f"Ledger check FAILED: the anchor {unknown} is not the hash of any entry or checkpoint in the chain: "
        "either it was copied wrongly, or the ledger was rewritten since the anchor was taken."
    )
