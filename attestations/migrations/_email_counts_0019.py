"""The email-count triggers as migration 0019 made them, frozen.

A copy of `attestations/dashboard/email_counts.py` as it was when 0019 was written, so that
the migration builds the same triggers and fills the same counts on an old database however
the live module changes later. Django's migration loader skips this module (its name starts
with an underscore).
"""

from __future__ import annotations

from django.db import connection as default_connection
from django.db import transaction

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


def _run(connection, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def email_counts_triggers_install(connection=default_connection) -> None:
    """Create (or re-create) the triggers. Idempotent."""
    _run(connection, _pg_install() if connection.vendor == "postgresql" else _sqlite_install())


def email_counts_triggers_uninstall(connection=default_connection) -> None:
    _run(connection, _pg_uninstall() if connection.vendor == "postgresql" else _sqlite_uninstall())


_ACTUAL = "SELECT kind, status, COUNT(*) AS n FROM attestations_sentemail GROUP BY kind, status"


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
