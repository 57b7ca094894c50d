"""Every advisory lock of the portal, in one place, behind a public name.

A service that checks something before it writes (a count, "no row yet") takes one of
these locks at the start of its transaction, so two runs at once take turns. On PostgreSQL
it is a transaction-scoped advisory lock, released at commit or rollback; SQLite already
runs one writing transaction at a time (IMMEDIATE mode, see settings), so there is nothing
to take. Each key is one number: two services that must never interleave share a key
here, by name, rather than by two constants kept equal by a comment.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator

from django.db import connection


class Lock(enum.IntEnum):
    # The register: the approved-groups cap is counted before a group is approved.
    APPROVED_GROUPS_CAP = 7_001
    # Roles and accounts (R14): removing the DPO role and closing an account both check that
    # another active DPO remains.
    ROLES = 7_002
    # Policy versions (R15): publishing, acknowledging and the sweep's "who owes" step make
    # one acknowledgement row per person per version, after checking none exists yet.
    POLICY_ACKS = 7_003
    # Closing cycles; placing a hold takes it too, so a close never misses a new hold.
    CYCLES_CLOSE = 7_101
    # Raising flags and resolving the settled ones never interleave.
    FLAGS = 7_102
    # Admin digests, DPO escalations and weekly summaries claim their rows one sweep at a time.
    NOTIFY = 7_103
    # A hold's notices: placing, lifting, acknowledging and the hold steps of the sweep.
    HOLD_NOTICES = 7_104
    # The attestation ledger: one entry at a time, each chained to the one before.
    LEDGER = 7_201
    # The retention schedule's disposal run (R18): one run at a time, across its many short
    # transactions (a session lock, `run_alone`), so two at once never share out the work.
    RETENTION = 7_202


def lock(key: Lock) -> None:
    """Take `key` until the end of the current transaction (call it inside one)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(key)])


@contextlib.contextmanager
def run_alone(key: Lock) -> Iterator[bool]:
    """Yield True if this process holds `key` for the block, False if another holds it.

    For work made of many short transactions (a transaction lock would end with the first):
    a session-level advisory lock, tried without waiting and released when the block ends.
    SQLite has no such lock; its one writer at a time keeps each transaction whole, and
    the work must stay safe to run twice, as every task here is.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [int(key)])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [int(key)])
