"""`CycleCount`: each cycle's obligations counted by status, kept by database triggers.

The dashboard reads these counts instead of counting a million obligations on every view.
They are derived data: the portal never writes them. Triggers on `attestations_cycle` and
`attestations_obligation` apply every change in the same transaction as the change itself,
so the counts cannot drift whatever writes the rows (a service, a bulk load, the admin, a
data fix in psql).

- PostgreSQL: statement-level triggers with transition tables, so a bulk insert of 100,000
  obligations costs one aggregate, not 100,000 updates. Each statement first locks the
  count rows it will change in `cycle_id` order, so two transactions attesting in the same
  groups queue behind each other instead of deadlocking.
- SQLite: row-level triggers (SQLite has no others; it serialises writers anyway).

`cycle_counts_rebuild` recomputes the table from the obligations (migration 0006 fills it
this way; `manage.py cycle_counts --rebuild` after restoring a backup without it), and
`cycle_counts_check` lists the cycles whose counts disagree with their obligations
(`manage.py cycle_counts`, and the tests after every kind of write).

A caveat for future migrations: on SQLite, Django rebuilds a table to alter it, which drops
its triggers. `cycle_counts_triggers_missing` names any that are gone; a test runs it after
all migrations, so a migration that loses them fails the suite: re-create them in it with
`cycle_counts_triggers_install`.
"""

from __future__ import annotations

from django.db import connection as default_connection
from django.db import transaction

from opcc_portal.lib.triggers import run_statements, triggers_missing

STATUSES = ("pending", "attested", "late", "excused", "held", "left")


def _columns(statuses: tuple[str, ...]) -> str:
    return ", ".join(f"n_{s}" for s in statuses)


COUNT_COLUMNS = _columns(STATUSES)

# Each is the name of a trigger and of its PostgreSQL function.
TRIGGERS = tuple(
    f"attestations_cyclecount_{table}_{event}"
    for table in ("cycle", "obligation")
    for event in ("insert", "update", "delete")
)


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_apply(deltas: str, statuses: tuple[str, ...]) -> str:
    """Lock, then add up `deltas` (rows of cycle_id, status, d) into the count rows."""
    sums = ", ".join(f"SUM(CASE WHEN status = '{s}' THEN d ELSE 0 END) AS n_{s}" for s in statuses)
    sets = ", ".join(f"n_{s} = c.n_{s} + x.n_{s}" for s in statuses)
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


def _pg_functions(statuses: tuple[str, ...]) -> dict[str, str]:
    return {
        "attestations_cyclecount_cycle_insert": f"""
    INSERT INTO attestations_cyclecount (cycle_id, group_id, period_end, due_at, {_columns(statuses)})
    SELECT id, group_id, period_end, due_at, {", ".join("0" for _ in statuses)} FROM new_rows;""",
        "attestations_cyclecount_cycle_update": """
    UPDATE attestations_cyclecount AS c
       SET group_id = n.group_id, period_end = n.period_end, due_at = n.due_at
      FROM new_rows AS n
     WHERE c.cycle_id = n.id
       AND (c.group_id, c.period_end, c.due_at) IS DISTINCT FROM (n.group_id, n.period_end, n.due_at);""",
        "attestations_cyclecount_cycle_delete": """
    DELETE FROM attestations_cyclecount WHERE cycle_id IN (SELECT id FROM old_rows);""",
        "attestations_cyclecount_obligation_insert": _pg_apply(
            "SELECT cycle_id, status, 1 AS d FROM new_rows", statuses
        ),
        "attestations_cyclecount_obligation_update": _pg_apply(
            f"SELECT new_cycle AS cycle_id, new_status AS status, 1 AS d FROM ({_PG_CHANGED}) AS ch"
            f" UNION ALL SELECT old_cycle, old_status, -1 FROM ({_PG_CHANGED}) AS ch",
            statuses,
        ),
        "attestations_cyclecount_obligation_delete": _pg_apply(
            "SELECT cycle_id, status, -1 AS d FROM old_rows", statuses
        ),
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


def _pg_install(statuses: tuple[str, ...]) -> list[str]:
    statements = []
    for name, body in _pg_functions(statuses).items():
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


def _sqlite_add(row: str, sign: str, statuses: tuple[str, ...]) -> str:
    sets = ", ".join(f"n_{s} = n_{s} {sign} ({row}.status = '{s}')" for s in statuses)
    return f"UPDATE attestations_cyclecount SET {sets} WHERE cycle_id = {row}.cycle_id;"


def _sqlite_install(statuses: tuple[str, ...]) -> list[str]:
    # Re-created from scratch: `IF NOT EXISTS` would keep a trigger of fewer statuses.
    return _sqlite_uninstall() + [
        f"""CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_cycle_insert
            AFTER INSERT ON attestations_cycle BEGIN
              INSERT INTO attestations_cyclecount (cycle_id, group_id, period_end, due_at, {_columns(statuses)})
              VALUES (NEW.id, NEW.group_id, NEW.period_end, NEW.due_at, {", ".join("0" for _ in statuses)});
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
              {_sqlite_add("NEW", "+", statuses)}
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_obligation_update
            AFTER UPDATE OF status, cycle_id ON attestations_obligation
            WHEN OLD.status IS NOT NEW.status OR OLD.cycle_id IS NOT NEW.cycle_id BEGIN
              {_sqlite_add("OLD", "-", statuses)}
              {_sqlite_add("NEW", "+", statuses)}
            END""",
        f"""CREATE TRIGGER IF NOT EXISTS attestations_cyclecount_obligation_delete
            AFTER DELETE ON attestations_obligation BEGIN
              {_sqlite_add("OLD", "-", statuses)}
            END""",
    ]


def _sqlite_uninstall() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]


# --- Services -----------------------------------------------------------------------------


def cycle_counts_triggers_install(connection=default_connection, statuses: tuple[str, ...] = STATUSES) -> None:
    """Create (or re-create) the triggers. Idempotent."""
    run_statements(
        connection, _pg_install(statuses) if connection.vendor == "postgresql" else _sqlite_install(statuses)
    )


def cycle_counts_triggers_uninstall(connection=default_connection) -> None:
    run_statements(connection, _pg_uninstall() if connection.vendor == "postgresql" else _sqlite_uninstall())


def cycle_counts_triggers_missing(connection=default_connection) -> list[str]:
    """The names of the triggers that should be there and are not."""
    return triggers_missing(connection, TRIGGERS)


def _actual(statuses: tuple[str, ...]) -> str:
    counted = ", ".join(f"SUM(CASE WHEN o.status = '{s}' THEN 1 ELSE 0 END)" for s in statuses)
    return f"""
    SELECT c.id, c.group_id, c.period_end, c.due_at, {counted}
      FROM attestations_cycle AS c LEFT JOIN attestations_obligation AS o ON o.cycle_id = c.id
     GROUP BY c.id, c.group_id, c.period_end, c.due_at"""


_ACTUAL = _actual(STATUSES)


def cycle_counts_rebuild(connection=default_connection, statuses: tuple[str, ...] = STATUSES) -> int:
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
            f"INSERT INTO attestations_cyclecount (cycle_id, group_id, period_end, due_at, {_columns(statuses)})"
            f" {_actual(statuses)}"
        )
        return cursor.rowcount


def cycle_counts_check(connection=default_connection) -> list[int]:
    """The ids of cycles whose stored counts differ from a fresh count (empty: all agree)."""
    stored = f"SELECT cycle_id, group_id, period_end, due_at, {COUNT_COLUMNS} FROM attestations_cyclecount"
    sql = f"""
        SELECT id FROM (SELECT * FROM ({_ACTUAL}) AS a EXCEPT SELECT * FROM ({stored}) AS b) AS missing_or_wrong
        UNION
        SELECT cycle_id FROM (SELECT * FROM ({stored}) AS b EXCEPT SELECT * FROM ({_ACTUAL}) AS a) AS extra_or_wrong
        ORDER BY 1"""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def flag_groups_check(connection=default_connection) -> list[int]:
    """The ids of flags whose copied group is not their cycle's (empty: all agree)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.id FROM attestations_flag AS f JOIN attestations_cycle AS c ON c.id = f.cycle_id"
            " WHERE f.group_id <> c.group_id ORDER BY f.id"
        )
        return [row[0] for row in cursor.fetchall()]
