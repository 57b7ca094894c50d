"""What the trigger-kept counts share (`CycleCount`, `SentEmailCount`): running their SQL and
finding the triggers a migration lost (on SQLite, rebuilding a table drops its triggers)."""

from __future__ import annotations

from collections.abc import Iterable


def run_statements(connection, statements: Iterable[str]) -> None:
    """Run each statement, in order, on `connection`."""
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def triggers_missing(connection, names: Iterable[str]) -> list[str]:
    """The names of these triggers that the database does not have."""
    sql = (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        if connection.vendor == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in names if name not in present]
