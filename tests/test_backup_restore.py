"""Backups: a dump of the real PostgreSQL database, restored into a fresh one, passes the
restore check (`manage.py check_restore`), and a copy whose ledger was altered fails it."""

import datetime as dt
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from attestations import services
from attestations.models import LedgerEntry, Obligation
from tests.conftest import service_missing

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
PERIOD_END = dt.datetime(2026, 11, 13, 17, tzinfo=dt.UTC)  # a Friday, 17:00 GMT


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        service_missing("backups are PostgreSQL's: set DATABASE_URL=postgres://…")
    for tool in ("pg_dump", "pg_restore", "psql"):
        if not shutil.which(tool):
            service_missing(f"{tool} is not installed (apt-get install postgresql-client)")
    return connection.settings_dict


def _libpq_env(db: dict) -> dict:
    env = {**os.environ, "PGHOST": db["HOST"] or "127.0.0.1", "PGPORT": str(db["PORT"] or 5432)}
    env["PGUSER"] = db["USER"] or "postgres"
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


@pytest.fixture
def restored(postgres, tmp_path):
    """Dump the test database with pg_dump and restore it into a new database, as the
    README's recipe does. Yields a function that runs `check_restore` against the copy."""
    env = _libpq_env(postgres)
    dump = tmp_path / "portal.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", postgres["NAME"]], env=env, check=True)
    copy = f"restore_check_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", "-d", "postgres", "-qc", f'CREATE DATABASE "{copy}"'], env=env, check=True)
    try:
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={copy}", dump], env=env, check=True)

        def check(sql: str = "") -> subprocess.CompletedProcess:
            if sql:
                subprocess.run(["psql", "-d", copy, "-qc", sql], env=env, check=True)
            url = f"postgres://{env['PGUSER']}@{env['PGHOST']}:{env['PGPORT']}/{copy}"
            return subprocess.run(
                [sys.executable, "manage.py", "check_restore"],
                cwd=ROOT,
                env={**env, "DATABASE_URL": url, "DEBUG": "true"},
                capture_output=True,
                text=True,
                timeout=120,
            )

        yield check
    finally:
        subprocess.run(["psql", "-d", "postgres", "-qc", f'DROP DATABASE IF EXISTS "{copy}"'], env=env, check=True)


@pytest.fixture
def attested(group, member, time_machine):
    """A week closed and attested on the live database: obligations, counts and a ledger entry."""
    time_machine.move_to(PERIOD_END + dt.timedelta(hours=1), tick=False)
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=5))
    obligation = Obligation.objects.get(user=member)
    services.obligation_attest(
        user=member,
        obligations=[obligation],
        cleared_on=dt.date(2026, 11, 13),
        confirmed_cleared=True,
        confirmed_saved=True,
        now=PERIOD_END + dt.timedelta(hours=1),
    )
    assert LedgerEntry.objects.count() == 1
    return obligation


def test_a_restored_dump_passes_the_restore_check(attested, restored):
    result = restored()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Migrations: every one applied." in result.stdout
    assert "every week's counts agree" in result.stdout
    assert "Ledger intact: 1 entries" in result.stdout
    assert "1 ledger entries" in result.stdout


def test_a_copy_whose_ledger_was_altered_fails_the_check(attested, restored):
    result = restored(f"UPDATE attestations_obligation SET cleared_on = '2026-11-14' WHERE id = {attested.pk}")
    assert result.returncode == 1
    assert "Ledger:" in result.stderr and "was edited" in result.stderr


def test_a_copy_without_the_count_triggers_fails_the_check(attested, restored):
    result = restored("DROP TRIGGER attestations_cyclecount_obligation_update ON attestations_obligation")
    assert result.returncode == 1
    assert "count triggers did not come back" in result.stderr


def test_a_copy_from_an_older_release_is_told_to_migrate_first(attested, restored):
    # The newest migration of the clear-downs, as an older release would not have it.
    [latest] = [name for app, name in MigrationLoader(None).graph.leaf_nodes() if app == "attestations"]
    result = restored(f"DELETE FROM django_migrations WHERE app = 'attestations' AND name = '{latest}'")
    assert result.returncode == 1
    assert f"attestations.{latest}" in result.stderr and "migrate" in result.stderr
