"""A short, bounded run of the load test (bench/load_test.py): no errors, no duplicates."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.services
def test_it_serves_members_attesting_at_once_without_errors_or_duplicates():
    if connection.vendor != "postgresql" or not shutil.which("psql"):
        service_missing("the load test needs PostgreSQL and psql (set DATABASE_URL)")
    settings = connection.settings_dict
    server = f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
    result = subprocess.run(
        [
            sys.executable,
            "bench/load_test.py",
            "--users",
            "10",
            "--seconds",
            "20",
            "--workers",
            "2",
            "--port",
            "8799",
            "--pg",
            server,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("JSON ")), None)
    assert line, result.stdout + result.stderr
    report = json.loads(line.removeprefix("JSON "))
    assert report["failures"] == 0 and report["duplicates"] == 0
    assert report["attested"] > 0 and report["requests"] > 10
    assert result.returncode == 0
