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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from opcc_portal.lib.locking import Lock, lock

from .models import LedgerEntry, Obligation

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
    head = LedgerEntry.objects.order_by("-sequence").values_list("sequence", "hash").first()
    sequence, prev = head if head else (0, GENESIS)
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

    def __str__(self) -> str:
        if self.ok:
            return f"Ledger intact: {self.checked} entries ({self.versions_text()}), head {self.head}."
        return f"Ledger BROKEN at entry #{self.sequence} (obligation {self.obligation_id}): {self.problem}"

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


def ledger_verify() -> Verdict:
    """Walk the chain from the first entry and report the first link that does not hold.

    Each entry is hashed again with its own payload version. Also checks that every
    attestation on record is in the chain: one whose entry was deleted along with the rows
    after it would otherwise go unnoticed.
    """
    expected_seq, prev, checked, versions = 1, GENESIS, 0, Counter()
    for seq, prev_hash, digest, version, *values in _entries():
        ob_id = values[0]
        broken = Verdict(ok=False, checked=checked, head=prev, sequence=seq, obligation_id=ob_id)
        if seq != expected_seq:
            broken.problem = f"entry #{expected_seq} is missing (the next entry is #{seq}): deleted or renumbered"
            broken.sequence = expected_seq
            return broken
        if prev_hash != prev:
            broken.problem = (
                f"its previous-hash does not match the hash of entry #{seq - 1}: an entry was edited or reordered"
            )
            return broken
        if version not in PAYLOAD_FIELDS_BY_VERSION:
            broken.problem = f"its payload version {version} is unknown: the entry was edited"
            return broken
        payload = payload_of(*values[: len(PAYLOAD_FIELDS_BY_VERSION[version])], version=version)
        if entry_hash(sequence=seq, prev_hash=prev_hash, payload=payload) != digest:
            broken.problem = "its hash does not match the attestation: the attestation or the entry was edited"
            return broken
        prev, expected_seq, checked = digest, expected_seq + 1, checked + 1
        versions[version] += 1
    unchained = Obligation.objects.filter(status__in=Obligation.DONE, ledger_entry__isnull=True).order_by("pk").first()
    if unchained is not None:
        return Verdict(
            ok=False,
            checked=checked,
            head=prev,
            sequence=expected_seq,
            obligation_id=unchained.pk,
            problem="an attestation on record has no ledger entry: its entry was deleted",
        )
    return Verdict(ok=True, checked=checked, head=prev, versions=dict(versions))


def ledger_size() -> dict:
    """How many entries, and the head: the last sequence number and its hash."""
    head = LedgerEntry.objects.order_by("-sequence").values("sequence", "hash", "recorded_at").first()
    return {"count": head["sequence"] if head else 0, "head": head}
