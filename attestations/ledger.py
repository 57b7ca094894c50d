"""The tamper-evident ledger of attestations: a hash chain (issue 6, R6, R11).

Each attestation, when made, appends one `LedgerEntry` whose hash is

    SHA-256( canonical JSON of the attestation's fields, its sequence number, and the
             previous entry's hash )

The fields are those of the entry's payload version (PAYLOAD_FIELDS_BY_VERSION): a field
that joins later does so in a new version, and older entries verify with their own.

so anyone holding the database can recompute the chain and find the first place where it
no longer holds: an attestation edited after the fact, an entry deleted or renumbered,
entries swapped. The chain proves the record was not quietly altered *through the
database*; it is not a signature: someone able to rewrite every row from the broken one
onwards could rebuild it. Printing the head hash into the FOI pack or an export log pins
it down in a copy kept outside the database.

Appends are serialised (an advisory lock on PostgreSQL, the single writer of SQLite's
IMMEDIATE transactions), and `sequence` and `prev_hash` are unique, so attestations made
at the same moment are put one after the other and the chain never forks.

Retention (R18): when attestations reach the end of their retention period, their entries
go with them (`ledger_dispose`), under the same lock as appends. Each run of consecutive
entries disposed of leaves a `LedgerCheckpoint`: the hash the run chained onto and its
last hash. Verification steps over the run on the checkpoint, so the entries that remain
still prove they were not altered, and the check says which runs it took on trust. The
head hash and count (`ledger_anchor`) go into the DPO's weekly summary and the FOI pack, a
copy outside the database: `verify_ledger --expect HASH` checks the chain reaches it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from opcc_portal.lib.locking import Lock, lock

from .models import LedgerCheckpoint, LedgerEntry, Obligation

GENESIS = "0" * 64
_VERIFY_CHUNK = 2_000


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value.isoformat()


# An attestation's fields that the chain vouches for, as values_list() names them, by payload
# version. Each entry records the version it was hashed with, so entries already written keep
# verifying when a field joins. Version 1 (the first release) left out the deadline; version 2
# adds `due_at`, which "on time" is judged against: without it an insider could move a late
# attestation's deadline and make it look on time without breaking the chain.
PAYLOAD_FIELDS_BY_VERSION = {
    1: (
        "pk",
        "user_id",
        "cycle_id",
        "status",
        "cleared_on",
        "attested_at",
        "confirmed_cleared",
        "confirmed_saved",
        "channel",
    ),
}
PAYLOAD_FIELDS_BY_VERSION[2] = (*PAYLOAD_FIELDS_BY_VERSION[1], "due_at")
PAYLOAD_VERSION = 2  # what new entries are written with
PAYLOAD_FIELDS = PAYLOAD_FIELDS_BY_VERSION[PAYLOAD_VERSION]


def payload_of(*values, version: int = PAYLOAD_VERSION) -> dict:
    """The payload of an attestation from the values of its version's PAYLOAD_FIELDS, in that order."""
    value = dict(zip(PAYLOAD_FIELDS_BY_VERSION[version], values, strict=True))
    payload = {
        "obligation": value["pk"],
        "user": value["user_id"],
        "cycle": value["cycle_id"],
        "status": value["status"],
        "cleared_on": _iso(value["cleared_on"]),
        "attested_at": _iso(value["attested_at"]),
        "confirmed_cleared": bool(value["confirmed_cleared"]),
        "confirmed_saved": bool(value["confirmed_saved"]),
        "channel": value["channel"],
    }
    if version >= 2:
        payload["due_at"] = _iso(value["due_at"])
    return payload


def attestation_payload(obligation: Obligation, *, version: int = PAYLOAD_VERSION) -> dict:
    """The fields of an attestation the chain vouches for."""
    return payload_of(*(getattr(obligation, name) for name in PAYLOAD_FIELDS_BY_VERSION[version]), version=version)


def entry_hash(*, sequence: int, prev_hash: str, payload: dict) -> str:
    # Sorted keys and no spaces: the same fields always give the same bytes.
    body = json.dumps({"seq": sequence, "prev": prev_hash, "att": payload}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _head() -> tuple[int, str]:
    """The sequence and hash the next entry chains onto: the newest entry's, or the newest
    checkpoint's when the retention schedule disposed of the newest entries. One query."""
    entry, checkpoint = LedgerEntry._meta.db_table, LedgerCheckpoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT sequence, hash FROM (SELECT sequence, hash FROM {entry} ORDER BY sequence DESC LIMIT 1) e "  # noqa: S608 - table names from the models
            f"UNION ALL SELECT last_sequence, hash FROM (SELECT last_sequence, hash FROM {checkpoint} "
            "ORDER BY last_sequence DESC LIMIT 1) c"
        )
        rows = cursor.fetchall()
    return max(rows) if rows else (0, GENESIS)


def ledger_append(*, obligations: Sequence[Obligation], now: dt.datetime | None = None) -> list[LedgerEntry]:
    """Chain freshly made attestations. Call inside the transaction that recorded them."""
    if not obligations:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_append must run inside the attestation's transaction")
    now = now or timezone.now()
    # Taken after the attestation rows are locked and held to commit: the next writer reads
    # the head only once this one's entries are committed, so it chains onto them.
    lock(Lock.LEDGER)
    sequence, prev = _head()
    entries = []
    for obligation in sorted(obligations, key=lambda o: o.pk):
        sequence += 1
        digest = entry_hash(sequence=sequence, prev_hash=prev, payload=attestation_payload(obligation))
        entries.append(
            LedgerEntry(
                sequence=sequence,
                obligation=obligation,
                prev_hash=prev,
                hash=digest,
                payload_version=PAYLOAD_VERSION,
                recorded_at=now,
            )
        )
        prev = digest
    return LedgerEntry.objects.bulk_create(entries)


@dataclass
class Verdict:
    ok: bool
    checked: int
    head: str
    sequence: int | None = None
    problem: str = ""
    obligation_id: int | None = None
    # How many of the entries checked were hashed with each payload version.
    versions: dict[int, int] = field(default_factory=dict)
    # The runs of entries disposed of under the retention schedule that the check stepped
    # over on their checkpoints, oldest first.
    checkpoints: list[LedgerCheckpoint] = field(default_factory=list)
    # `--expect`: the anchor looked for, and the entry whose hash it is (None: not reached).
    expected: str = ""
    expected_at: int | None = None

    def __str__(self) -> str:
        if self.ok:
            text = f"Ledger intact: {self.checked} entries ({self.versions_text()}), head {self.head}."
            if self.checkpoints:
                text += f" {self.checkpoints_text()}"
            if self.expected:
                text += f" The anchor {self.expected} is entry #{self.expected_at}: the chain up to it is intact."
            return text
        if self.sequence is None:
            return f"Ledger check FAILED: {self.problem}."
        where = f" (obligation {self.obligation_id})" if self.obligation_id is not None else ""
        return f"Ledger BROKEN at entry #{self.sequence}{where}: {self.problem}"

    @property
    def disposed(self) -> int:
        return sum(cp.entries for cp in self.checkpoints)

    def checkpoints_text(self) -> str:
        runs = ", ".join(
            f"#{cp.first_sequence}–#{cp.last_sequence} (disposed of {timezone.localtime(cp.disposed_at):%d %b %Y})"
            for cp in self.checkpoints
        )
        return (
            f"Checked from the checkpoints on: {self.disposed} earlier entries were disposed of under the "
            f"retention schedule ({runs}); their last hashes are kept and the entries after them chain onto them."
        )

    def versions_text(self) -> str:
        return ", ".join(f"{n} with payload v{v}" for v, n in sorted(self.versions.items())) or "none"


# The obligation's fields of the latest version, which include every earlier version's.
_ENTRY_FIELDS = ("sequence", "prev_hash", "hash", "payload_version")
_OBLIGATION_FIELDS = tuple("obligation_id" if f == "pk" else f"obligation__{f}" for f in PAYLOAD_FIELDS)


def _entries() -> Iterator[tuple]:
    # The attestation's fields come with the entry in one query, read in chunks.
    return (
        LedgerEntry.objects.order_by("sequence")
        .values_list(*_ENTRY_FIELDS, *_OBLIGATION_FIELDS)
        .iterator(chunk_size=_VERIFY_CHUNK)
    )


def ledger_verify(*, expect: str = "") -> Verdict:
    """Walk the chain from the first entry and report the first link that does not hold.

    Each entry is hashed again with its own payload version. A run of entries disposed of
    under the retention schedule is stepped over on its checkpoint, which must chain onto
    the entry before it, as the entry after it must chain onto the checkpoint's last hash.
    Also checks that every attestation on record is in the chain: one whose entry was
    deleted along with the rows after it would otherwise go unnoticed. With `expect` (a head
    hash copied out of the portal earlier) the chain must also pass through that hash.
    """
    expect = expect.strip().lower()
    checkpoints = {cp.first_sequence: cp for cp in LedgerCheckpoint.objects.order_by("first_sequence")}
    used: list[LedgerCheckpoint] = []
    expected_seq, prev, checked, versions = 1, GENESIS, 0, Counter()
    expected_at = None

    def step_over(seq: int, hash_before: str) -> tuple[int, str, str]:
        """Follow the checkpoints that start at `seq`: (next sequence, hash, problem)."""
        while seq in checkpoints:
            cp = checkpoints.pop(seq)
            if cp.prev_hash != hash_before:
                return (
                    seq,
                    hash_before,
                    (
                        f"the checkpoint of disposed entries #{cp.first_sequence}–#{cp.last_sequence} does not chain "
                        f"onto entry #{seq - 1}: the checkpoint or the entry before it was edited"
                    ),
                )
            used.append(cp)
            seq, hash_before = cp.last_sequence + 1, cp.hash
        return seq, hash_before, ""

    def broken_verdict(**kwargs) -> Verdict:
        return Verdict(ok=False, checked=checked, head=prev, checkpoints=used, expected=expect, **kwargs)

    for seq, prev_hash, digest, version, *values in _entries():
        ob_id = values[0]
        if prev == expect and expected_at is None:
            expected_at = expected_seq - 1
        if seq != expected_seq:
            expected_seq, prev, problem = step_over(expected_seq, prev)
            if problem:
                return broken_verdict(sequence=expected_seq, obligation_id=None, problem=problem)
            if prev == expect and expected_at is None:
                expected_at = expected_seq - 1
        if seq != expected_seq:
            return broken_verdict(
                sequence=expected_seq,
                obligation_id=ob_id,
                problem=f"entry #{expected_seq} is missing (the next entry is #{seq}): deleted or renumbered",
            )
        if prev_hash != prev:
            return broken_verdict(
                sequence=seq,
                obligation_id=ob_id,
                problem=(
                    f"its previous-hash does not match the hash of entry #{seq - 1}: an entry was edited or reordered"
                ),
            )
        if version not in PAYLOAD_FIELDS_BY_VERSION:
            return broken_verdict(
                sequence=seq,
                obligation_id=ob_id,
                problem=f"its payload version {version} is unknown: the entry was edited",
            )
        payload = payload_of(*values[: len(PAYLOAD_FIELDS_BY_VERSION[version])], version=version)
        if entry_hash(sequence=seq, prev_hash=prev_hash, payload=payload) != digest:
            return broken_verdict(
                sequence=seq,
                obligation_id=ob_id,
                problem="its hash does not match the attestation: the attestation or the entry was edited",
            )
        prev, expected_seq, checked = digest, expected_seq + 1, checked + 1
        versions[version] += 1
    if prev == expect and expected_at is None:
        expected_at = expected_seq - 1
    # Runs disposed of after the last entry still standing (the newest entries went too).
    expected_seq, prev, problem = step_over(expected_seq, prev)
    if problem:
        return broken_verdict(sequence=expected_seq, obligation_id=None, problem=problem)
    if prev == expect and expected_at is None:
        expected_at = expected_seq - 1
    if checkpoints:
        cp = next(iter(checkpoints.values()))
        return broken_verdict(
            sequence=cp.first_sequence,
            obligation_id=None,
            problem=(
                f"the checkpoint of disposed entries #{cp.first_sequence}–#{cp.last_sequence} joins nothing in the "
                "chain: entries were renumbered or a checkpoint was added"
            ),
        )
    unchained = Obligation.objects.filter(status__in=Obligation.DONE, ledger_entry__isnull=True).order_by("pk").first()
    if unchained is not None:
        return broken_verdict(
            sequence=expected_seq,
            obligation_id=unchained.pk,
            problem="an attestation on record has no ledger entry: its entry was deleted",
        )
    if expect and expected_at is None:
        disposed = (
            f" (entries #{used[0].first_sequence}–#{used[-1].last_sequence} were disposed of since)" if used else ""
        )
        return broken_verdict(
            sequence=None,
            obligation_id=None,
            problem=(
                f"the anchor {expect} is not the hash of any entry or checkpoint in the chain{disposed}: either it "
                "was copied wrongly, or the ledger was rewritten since the anchor was taken"
            ),
        )
    return Verdict(
        ok=True,
        checked=checked,
        head=prev,
        versions=dict(versions),
        checkpoints=used,
        expected=expect,
        expected_at=expected_at,
    )


@dataclass(frozen=True)
class Anchor:
    count: int  # entries ever chained, disposed of or not: the head's sequence number
    hash: str


def ledger_anchor(*, at: dt.datetime | None = None) -> Anchor:
    """The head of the chain (as it stood at `at`): the hash to copy outside the portal."""
    entries = LedgerEntry.objects.order_by("-sequence")
    if at is not None:
        entries = entries.filter(recorded_at__lte=at)
    head = entries.values_list("sequence", "hash").first()
    checkpoint = LedgerCheckpoint.objects.order_by("-last_sequence").values_list("last_sequence", "hash").first()
    # The newest entries may have been disposed of too (all of them, in a long-quiet office).
    if checkpoint and (head is None or (at is None and checkpoint[0] > head[0])):
        head = checkpoint
    return Anchor(count=head[0], hash=head[1]) if head else Anchor(count=0, hash=GENESIS)


def ledger_dispose(*, obligation_ids: Sequence[int], now: dt.datetime) -> int:
    """Delete the ledger entries of attestations being disposed of, keeping checkpoints.

    Call inside the disposal's transaction, after the obligations are locked (the order
    `ledger_append` takes them in, so the two never deadlock). Each run of consecutive
    entries becomes a checkpoint, merged with the checkpoints it touches. Returns how many
    entries went.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_dispose must run inside the disposal's transaction")
    lock(Lock.LEDGER)
    rows = list(
        LedgerEntry.objects.filter(obligation_id__in=obligation_ids)
        .order_by("sequence")
        .values_list("pk", "sequence", "prev_hash", "hash")
    )
    if not rows:
        return 0
    runs: list[list[tuple]] = []
    for row in rows:
        if runs and runs[-1][-1][1] == row[1] - 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    LedgerEntry.objects.filter(pk__in=[row[0] for row in rows]).delete()
    for run in runs:
        first, last = run[0], run[-1]
        before = LedgerCheckpoint.objects.filter(last_sequence=first[1] - 1).first()
        after = LedgerCheckpoint.objects.filter(first_sequence=last[1] + 1).first()
        if before is None:
            before = LedgerCheckpoint(first_sequence=first[1], prev_hash=first[2], disposed_at=now)
        else:
            before.extended_at = now
        before.last_sequence, before.hash = last[1], last[3]
        if after is not None:
            before.last_sequence, before.hash = after.last_sequence, after.hash
            before.extended_at = now
            after.delete()
        before.save()
    return len(rows)


def ledger_size() -> dict:
    """How many entries, and the head: the last sequence number and its hash; the runs disposed of."""
    head = LedgerEntry.objects.order_by("-sequence").values("sequence", "hash", "recorded_at").first()
    checkpoints = list(LedgerCheckpoint.objects.order_by("first_sequence"))
    anchor = ledger_anchor()
    return {"count": anchor.count, "head": head, "anchor": anchor, "checkpoints": checkpoints}
