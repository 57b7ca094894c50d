"""`SentEmailCount`: the emails counted by kind and status, kept by database triggers.

The emails page heads its list with how many emails there are of each status (of one kind,
if filtered). Counting them on every view is one aggregate over every email, 150 ms and
more on a force's year; reading these counts is a few dozen rows. They are derived data:
the portal never writes them. Triggers on `attestations_sentemail` apply every insert,
update of kind or status, and delete in the same transaction as the change, so the counts
cannot drift whatever writes the emails (the outbox, a send, retention, a data fix in psql).

- PostgreSQL: statement-level triggers with transition tables. Each statement's rows are
  added up into one delta per (kind, status), so a sweep recording 10,000 reminders, or a
  retention batch deleting them, is one aggregate and an upsert of a few rows. The upsert
  goes through the pairs in (kind, status) order, so it locks their rows in that order and
  two statements that touch the same pairs queue behind each other instead of deadlocking.
- SQLite: row-level triggers (SQLite has no others; it serialises writers anyway).

What contends with what (PostgreSQL). A count row stays locked from the statement that
changes it until its transaction commits, so the writers of emails of one kind queue on
that kind's rows; nothing else waits on them (the page reads without locking).
- A send (`outbox.sentemail_send`) moves its email from pending to sent (or failed,
  cancelled): it locks its kind's two rows, pending and the new status, in order, once the
  mail server has answered, and commits straight after with the history row. So workers
  sending emails of one kind take turns for the length of a commit, not of a send.
- The outbox (`outbox_add`: each step of the sweep, a prompt, a hold's notices, a leaver's
  emails to the DPO) locks the (kind, pending) row of the kinds it records. Every caller
  records its emails as the last write of its own transaction, so a worker sending that
  kind waits at most for the rest of it (history rows, links to flags), never for a
  whole sweep.
- Retention deletes emails in batches, one transaction each, locking the pairs of the
  batch in order.
- Updates that change neither kind nor status (`queued_at`, an attempt that failed and
  will be retried) lock nothing.
Within one statement the order is fixed. A transaction that changes emails in several
statements locks each statement's pairs as it goes: two such transactions, changing the
same kinds in a different order, could deadlock (PostgreSQL then fails one of them).
None of the portal's does today; keep it so (one statement per transaction that writes
emails of several kinds, or the same order).

`email_counts_rebuild` recomputes the table from the emails (migration 0019 fills it this
way; `manage.py email_counts --rebuild` after restoring a backup without it), and
`email_counts_check` lists the (kind, status) pairs whose counts disagree with the emails
(`manage.py email_counts`, and the tests after every kind of write).

A caveat for future migrations: on SQLite, Django rebuilds a table to alter it (a new
kind's check constraint does), which drops its triggers. `email_counts_triggers_missing`
names any that are gone; a test runs it after all migrations, so a migration that loses
them fails the suite: re-create them in it with `email_counts_triggers_install`.
"""

from __future__ import annotations

from django.db import connection as default_connection
from django.db import transaction

from opcc_portal.lib.triggers import run_statements, triggers_missing

# Each is the name of a trigger and of its PostgreSQL function.
TRIGGERS = tuple(f"attestations_sentemailcount_{event}" for event in ("insert", "update", "delete"))


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_apply(deltas: str) -> str:
    """Add `deltas` (rows of kind, status, d) into the count rows, in (kind, status) order.

    One upsert: a pair seen for the first time gets its row, an existing row is locked
    and added to as the statement reaches it, in the order of the SELECT."""
    return f"""
    INSERT INTO attestations_sentemailcount AS c (kind, status, n)
    SELECT kind, status, SUM(d) FROM ({deltas}) AS x
     GROUP BY kind, status HAVING SUM(d) <> 0
     ORDER BY kind, status
    ON CONFLICT (kind, status) DO UPDATE SET n = c.n + EXCLUDED.n;"""


# Every row counts +1 as it is and -1 as it was: a row whose kind and status did not change
# comes to 0, and `_pg_apply` leaves out pairs whose sum is 0. No join of the two transition
# tables (they have no index or statistics: joining them was a nested loop, 15 s for an
# UPDATE of 10,000 emails), two scans and one aggregate.
_PG_CHANGED = "SELECT kind, status, 1 AS d FROM new_rows UNION ALL SELECT kind, status, -1 FROM old_rows"

_PG_FUNCTIONS = {
    "attestations_sentemailcount_insert": _pg_apply("SELECT kind, status, 1 AS d FROM new_rows"),
    "attestations_sentemailcount_update": _pg_apply(_PG_CHANGED),
    "attestations_sentemailcount_delete": _pg_apply("SELECT kind, status, -1 AS d FROM old_rows"),
}

_PG_EVENTS = {
    # trigger: (event, transition tables). PostgreSQL allows no column list (`UPDATE OF`)
    # with transition tables: the update trigger runs for every UPDATE and finds nothing
    # to count when neither kind nor status changed.
    "attestations_sentemailcount_insert": ("INSERT", "NEW TABLE AS new_rows"),
    "attestations_sentemailcount_update": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "attestations_sentemailcount_delete": ("DELETE", "OLD TABLE AS old_rows"),
}


def _pg_install() -> list[str]:
    statements = []
    for name, body in _PG_FUNCTIONS.items():
        event, transitions = _PG_EVENTS[name]
        statements += [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN{body}\n    RETURN NULL;\nEND\n$$",
            f"DROP TRIGGER IF EXISTS {name} ON attestations_sentemail",
            f"CREATE TRIGGER {name} AFTER {event} ON attestations_sentemail REFERENCING {transitions}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


def _pg_uninstall() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {name} ON attestations_sentemail; DROP FUNCTION IF EXISTS {name}()"
        for name in _PG_EVENTS
    ]


# --- SQLite -------------------------------------------------------------------------------


def _sqlite_add(row: str) -> str:
    return (
        f"INSERT INTO attestations_sentemailcount (kind, status, n) VALUES ({row}.kind, {row}.status, 1)"
        " ON CONFLICT (kind, status) DO UPDATE SET n = n + 1;"
    )


def _sqlite_take(row: str) -> str:
    return f"UPDATE attestations_sentemailcount SET n = n - 1 WHERE kind = {row}.kind AND status = {row}.status;"


def _sqlite_install() -> list[str]:
    return _sqlite_uninstall() + [
        f"""CREATE TRIGGER attestations_sentemailcount_insert
            AFTER INSERT ON attestations_sentemail BEGIN
              {_sqlite_add("NEW")}
            END""",
        f"""CREATE TRIGGER attestations_sentemailcount_update
            AFTER UPDATE OF kind, status ON attestations_sentemail
            WHEN OLD.kind IS NOT NEW.kind OR OLD.status IS NOT NEW.status BEGIN
              {_sqlite_take("OLD")}
              {_sqlite_add("NEW")}
            END""",
        f"""CREATE TRIGGER attestations_sentemailcount_delete
            AFTER DELETE ON attestations_sentemail BEGIN
              {_sqlite_take("OLD")}
            END""",
    ]


def _sqlite_uninstall() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]


# --- Services -----------------------------------------------------------------------------


def email_counts_triggers_install(connection=default_connection) -> None:
    """Create (or re-create) the triggers. Idempotent."""
    run_statements(connection, _pg_install() if connection.vendor == "postgresql" else _sqlite_install())


def email_counts_triggers_uninstall(connection=default_connection) -> None:
    run_statements(connection, _pg_uninstall() if connection.vendor == "postgresql" else _sqlite_uninstall())


def email_counts_triggers_missing(connection=default_connection) -> list[str]:
    """The names of the triggers that should be there and are not."""
    return triggers_missing(connection, TRIGGERS)


_ACTUAL = "SELECT kind, status, COUNT(*) AS n FROM attestations_sentemail GROUP BY kind, status"
# A pair counted 0 is the same as a pair with no row.
_STORED = "SELECT kind, status, n FROM attestations_sentemailcount WHERE n <> 0"


def email_counts_rebuild(connection=default_connection) -> int:
    """Recompute every count from the emails, in one transaction. Returns the number of
    (kind, status) pairs. Writers of emails wait meanwhile (the tables are locked on
    PostgreSQL), so nothing changes half way."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE attestations_sentemail, attestations_sentemailcount IN EXCLUSIVE MODE")
        cursor.execute("DELETE FROM attestations_sentemailcount")
        cursor.execute(f"INSERT INTO attestations_sentemailcount (kind, status, n) {_ACTUAL}")
        return cursor.rowcount


def email_counts_check(connection=default_connection) -> list[tuple[str, str]]:
    """The (kind, status) pairs whose stored count differs from a fresh count (empty: all agree)."""
    sql = f"""
        SELECT kind, status FROM (SELECT * FROM ({_ACTUAL}) AS a EXCEPT SELECT * FROM ({_STORED}) AS b) AS wrong
        UNION
        SELECT kind, status FROM (SELECT * FROM ({_STORED}) AS b EXCEPT SELECT * FROM ({_ACTUAL}) AS a) AS extra
        ORDER BY 1, 2"""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [(kind, status) for kind, status in cursor.fetchall()]
