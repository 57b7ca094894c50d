"""The cycle-count triggers and first fill as migration 0006 made them, frozen.

A copy of `attestations/dashboard/counts.py` as it was when 0006 was written: the migration
must build the same triggers on an old database however the live module changes later (a
later change of the triggers comes with a migration of its own that re-installs them).
Django's migration loader skips this module (its name starts with an underscore).
"""

from __future__ import annotations

from django.db import connection as default_connection
from django.db import transaction

STATUSES = ("pending", "attested", "late", "excused", "held")
COUNT_COLUMNS = ", ".join(f"n_{s}" for s in STATUSES)

# Each is the name of a trigger and of its PostgreSQL function.
TRIGGERS = tuple(
    f"attestations_cyclecount_{table}_{event}"
    for table in ("cycle", "obligation")
    for event in ("insert", "update", "delete")
)


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_apply(deltas: str) -> str:
    """Lock, then add up `deltas` (rows of cycle_id, status, d) into the count rows."""
    sums = ", ".join(f"SUM(CASE WHEN status = '{s}' THEN d ELSE 0 END) AS n_{s}" for s in STATUSES)
    sets = ", ".join(f"n_{s} = c.n_{s} + x.n_{s}" for s in STATUSES)
    return f"""
    PERFORM 1 FROM attestations_cyclecount
     WHERE cycle_id IN (SELECT cycle_id FROM ({deltas}) AS l)
     ORDER BY cycle_id FOR UPDATE;
    UPDATE attestations_cyclecount AS c SET {sets}
      FROM (SELECT cycle_id, {sums} FROM ({deltas}) AS s GROUP BY cycle_id) AS x
     WHERE c.cycle_id = x.cycle_id;"""


_PG_CHANGED = (
    "SELECT n.cycle_id AS new_cycle, n.status AS new_status, o.cycle_id AS old_cycle, o.status AS old_status"
    " FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id"
    " WHERE n.status <> o.status OR n.cycle_id <> o.cycle_id"
)

_PG_FUNCTIONS = {
    "attestations_cyclecount_cycle_insert": f"""
    INSERT INTO attestations_cyclecount (cycle_id, group_id, period_end, due_at, {COUNT_COLUMNS})
    SELECT id, group_id, period_end, due_at, 0, 0, 0, 0, 0 FROM new_rows;""",
    "attestations_cyclecount_cycle_update": """
    UPDATE attestations_cyclecount AS c
       SET group_id = n.group_id, period_end = n.period_end, due_at = n.due_at
      FROM new_rows AS n
     WHERE c.cycle_id = n.id
       AND (c.group_id, c.period_end, c.due_at) IS DISTINCT FROM (n.group_id, n.period_end, n.due_at);""",
    "attestations_cyclecount_cycle_delete": """
    DELETE FROM attestations_cyclecount WHERE cycle_id IN (SELECT id FROM old_rows);""",
    "attestations_cyclecount_obligation_insert": _pg_apply("SELECT cycle_id, status, 1 AS d FROM new_rows"),
    "attestations_cyclecount_obligation_update": _pg_apply(
        f"SELECT new_cycle AS cycle_id, new_status AS status, 1 AS d FROM ({_PG_CHANGED}) AS ch"
        f" UNION ALL SELECT old_cycle, old_status, -1 FROM ({_PG_CHANGED}) AS ch"
    ),
    "attestations_cyclecount_obligation_delete": _pg_apply("SELECT cycle_id, status, -1 AS d FROM old_rows"),
}

_PG_EVENTS = {
    # trigger: (table, event, transition tables)
    "attestations_cyclecount_cycle_insert": ("attestations_cycle", "INSERT", "NEW TABLE AS new_rows"),
    "attestations_cyclecount_cycle_update": ("attestations_cycle", "UPDATE", "NEW TABLE AS new_rows"),
    "attestations_cyclecount_cycle_delete": ("attestations_cycle", "DELETE", "OLD TABLE AS old_rows"),
    "attestations_cyclecount_obligation_insert": ("attestations_obligation", "INSERT", "NEW TABLE AS new_rows"),
    "attestations_cyclecount_obligation_update": (
        "attestations_obligation",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    "attestations_cyclecount_obligation_delete": ("attestations_obligation", "DELETE", "OLD TABLE AS old_rows"),
}


def _pg_install() -> list[str]:
    statements = []
    for name, body in _PG_FUNCTIONS.items():
        table, event, transitions = _PG_EVENTS[name]
        statements += [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN{body}\n    RETURN NULL;\nEND\n$$",
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transitions}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


def _pg_uninstall() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {name} ON {table}; DROP FUNCTION IF EXISTS {name}()"
        for name, (table, _, _) in _PG_EVENTS.items()
    ]


# --- SQLite -------------------------------------------------------------------------------


def _sqlite_add(row: str, sign: str) -> str:
    sets = ", ".join(f"n_{s} = n_{s} {sign} ({row}.status = '{s}')" for s in STATUSES)
    return f"UPDATE attestations_cyclecount SET {sets} WHERE cycle_id = {row}.cycle_id;"


def _sqlite_install() -> list[str]:
    return [
        f"""CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_cycle_insert
            AFTER INSERT ON attestations_cycle BEGIN
              INSERT INTO attestations_cyclecount (cycle_id, group_id, period_end, due_at, {COUNT_COLUMNS})
              VALUES (NEW.id, NEW.group_id, NEW.period_end, NEW.due_at, 0, 0, 0, 0, 0);
            END""",
        """CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_cycle_update
            AFTER UPDATE OF group_id, period_end, due_at ON attestations_cycle BEGIN
              UPDATE attestations_cyclecount
                 SET group_id = NEW.group_id, period_end = NEW.period_end, due_at = NEW.due_at
               WHERE cycle_id = NEW.id;
            END""",
        """CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_cycle_delete
            AFTER DELETE ON attestations_cycle BEGIN
              DELETE FROM attestations_cyclecount WHERE cycle_id = OLD.id;
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_obligation_insert
            AFTER INSERT ON attestations_obligation BEGIN
              {_sqlite_add("NEW", "+")}
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_obligation_update
            AFTER UPDATE OF status, cycle_id ON attestations_obligation
            WHEN OLD.status IS NOT NEW.status OR OLD.cycle_id IS NOT NEW.cycle_id BEGIN
              {_sqlite_add("OLD", "-")}
              {_sqlite_add("NEW", "+")}
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_obligation_delete
            AFTER DELETE ON attestations_obligation BEGIN
              {_sqlite_add("OLD", "-")}
            END""",
    ]


def _sqlite_uninstall() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]


# --- Services -----------------------------------------------------------------------------


def _run(connection, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def cycle_counts_triggers_install(connection=default_connection) -> None:
    """Create (or re-create) the triggers. Idempotent."""
    _run(connection, _pg_install() if connection.vendor == "postgresql" else _sqlite_install())


def cycle_counts_triggers_uninstall(connection=default_connection) -> None:
    _run(connection, _pg_uninstall() if connection.vendor == "postgresql" else _sqlite_uninstall())


_COUNTED = ", ".join(f"SUM(CASE WHEN o.status = '{s}' THEN 1 ELSE 0 END)" for s in STATUSES)
_ACTUAL = f"""
    SELECT c.id, c.group_id, c.period_end, c.due_at, {_COUNTED}
      FROM attestations_cycle AS c LEFT JOIN attestations_obligation AS o ON o.cycle_id = c.id
     GROUP BY c.id, c.group_id, c.period_end, c.due_at"""


def cycle_counts_rebuild(connection=default_connection) -> int:
    """Recompute every cycle's counts from its obligations, in one transaction. Returns the
    number of cycles. Writers of obligations wait meanwhile (the tables are locked on
    PostgreSQL), so nothing changes half way."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "LOCK TABLE attestations_cycle, attestations_obligation, attestations_cyclecount IN EXCLUSIVE MODE"
            )
        cursor.execute("DELETE FROM attestations_cyclecount")
        cursor.execute(
            f"INSERT INTO attestations_cyclecount (cycle_id, group_id, period_end, due_at, {COUNT_COLUMNS}) {_ACTUAL}"
        )
        return cursor.rowcount
