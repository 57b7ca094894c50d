"""Load test: simulated members against gunicorn + PostgreSQL on loopback, for a bounded time.

    .venv/bin/python bench/load_test.py --users 50 --seconds 60

Creates (and afterwards drops) a scratch database, seeds members with open clear-downs,
starts gunicorn, runs locust headless, then checks the database: every member's
attestations recorded exactly once. Prints requests per second, latency percentiles,
errors and duplicates, and a JSON line for machines. Exit status 1 on any error or
duplicate. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def run(*args, env, check=True, **kwargs):
    return subprocess.run(args, cwd=ROOT, env=env, check=check, **kwargs)


def psql(sql: str, admin_url: str) -> str:
    return subprocess.run(["psql", admin_url, "-tAc", sql], check=True, capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker (default 1: sync workers, as the figures in the README were measured; "
        "gunicorn.conf.py's 8 threads start every sign-in's password hashing at once)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    database = f"portal_load_{secrets.token_hex(4)}"
    psql(f"CREATE DATABASE {database}", f"{args.pg}/postgres")
    scratch = Path(tempfile.mkdtemp(prefix="portal-load-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.pg}/{database}",
        "CELERY_BROKER_URL": "filesystem://",
        "VAR_DIR": str(scratch),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{args.port}",
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "EMAIL_URL": "dummymail://",
        "AXES_FAILURE_LIMIT": "1000",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    server = None
    try:
        run(PYTHON, "manage.py", "migrate", "-v0", env=env)
        run(PYTHON, "manage.py", "seed_load", "--members", str(args.users), env=env)
        server = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "opcc_portal.wsgi",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--worker-class",
                "sync" if args.threads == 1 else "gthread",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        _wait_until_up(f"http://127.0.0.1:{args.port}/healthz")
        prefix = scratch / "locust"
        run(
            PYTHON,
            "-m",
            "locust",
            "-f",
            "bench/locustfile.py",
            "--headless",
            "-u",
            str(args.users),
            "-r",
            str(max(1, args.users // 5)),
            "-t",
            f"{args.seconds}s",
            "--host",
            f"http://127.0.0.1:{args.port}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            env=env,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        stats = _read_stats(prefix.with_name("locust_stats.csv"))
        checks = _check_database(f"{args.pg}/{database}")
    finally:
        if server:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"{args.pg}/postgres")

    report = {**stats, **checks, "users": args.users, "seconds": args.seconds, "workers": args.workers}
    print(
        f"{report['requests']} requests in {args.seconds} s from {args.users} members: "
        f"{report['rps']:.1f} req/s, p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, "
        f"p99 {report['p99_ms']} ms, {report['failures']} errors"
    )
    print(
        f"attested {report['attested']} of {report['obligations']} obligations; "
        f"{report['duplicates']} duplicate attestations"
    )
    print("JSON " + json.dumps(report))
    return 1 if report["failures"] or report["duplicates"] or not report["attested"] else 0


def _wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the portal did not start at {url}")


def _read_stats(path: Path) -> dict:
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    for row in rows:
        if row["Name"] != "Aggregated":
            print(
                f"  {row['Type']:<5} {row['Name']:<16} {int(row['Request Count']):>6} requests, "
                f"p50 {row['50%']:>6} ms, p95 {row['95%']:>6} ms, {row['Failure Count']} errors"
            )
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        "p50_ms": int(float(total["50%"])),
        "p95_ms": int(float(total["95%"])),
        "p99_ms": int(float(total["99%"])),
    }


def _check_database(url: str) -> dict:
    obligations = int(psql("SELECT count(*) FROM attestations_obligation", url))
    attested = int(psql("SELECT count(*) FROM attestations_obligation WHERE status IN ('attested','late')", url))
    # Every attestation writes one history row saying so; a duplicate would write two.
    duplicates = int(
        psql(
            "SELECT count(*) FROM (SELECT id FROM attestations_historicalobligation "
            "WHERE status IN ('attested','late') AND history_type = '~' GROUP BY id HAVING count(*) > 1) AS d",
            url,
        )
    )
    return {"obligations": obligations, "attested": attested, "duplicates": duplicates}


if __name__ == "__main__":
    raise SystemExit(main())
