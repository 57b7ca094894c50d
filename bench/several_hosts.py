"""Several hosts on loopback: two web hosts, one PostgreSQL, one Redis, one worker, two beats.

    .venv/bin/python bench/several_hosts.py [--staff 10000 --groups 1000 --weeks 52] [--minutes 3]

Creates (and afterwards drops) a scratch database, fills it with `seed_scale`, and starts:
two gunicorns (hosts A and B: each its own folder for local state, logos in the database),
one Celery worker and two Celery beats (one too many, as after a mistake) on Redis, with the
sweep every minute. Then it checks and measures:

1. logos: a logo uploaded through host A is served by host B, byte for byte (and the
   session made on A works on B: sessions are in the database too);
2. beats: for each minute, how many sweep messages the worker received (two: one per beat)
   and how many sweeps had an effect (one: the tick's claim);
3. downloads: the median and worst time of a page (an auditor's export list) while
   `--downloads` CSV exports of every clear-down stream at once, against the same page with
   nothing else running; first on host A as configured (gunicorn.conf.py: gthread, 3
   processes × 8 threads), then on host A restarted with gunicorn's default sync workers
   (3 processes) for comparison.

Prints the figures and a JSON line; exit status 1 when a check fails. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PASSWORD = "scale-data-only-2026"  # seed_scale's
METRICS_TOKEN = secrets.token_urlsafe(32)


def psql(sql: str, url: str) -> str:
    return subprocess.run(["psql", url, "-tAc", sql], check=True, capture_output=True, text=True).stdout.strip()


class Processes:
    def __init__(self, scratch: Path, base_env: dict):
        self.scratch, self.base_env, self.running = scratch, base_env, {}

    def start(self, name: str, args: list[str], **env) -> subprocess.Popen:
        folder = self.scratch / name
        folder.mkdir(exist_ok=True)
        log = open(folder / "log.txt", "ab")  # noqa: SIM115 - closed with the process
        full_env = {
            **self.base_env,
            "VAR_DIR": str(folder),
            "MEDIA_ROOT": str(folder / "media"),
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
            **env,
        }
        process = subprocess.Popen(
            args, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def log(self, name: str) -> str:
        return (self.scratch / name / "log.txt").read_text(errors="replace")


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def sign_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/accounts/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
    )
    assert response.ok and "sessionid" in session.cookies, f"sign-in as {username} failed: {response.status_code}"
    return session


def csrf(session: requests.Session, url: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(url, timeout=10).text).group(1)


def check_logos(host_a: str, host_b: str) -> dict:
    dpo = sign_in(host_a, "scale-dpo")
    image = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 90)).save(image, format="PNG")
    url = f"{host_a}/groups/propose/"
    response = dpo.post(
        url,
        data={
            "csrfmiddlewaretoken": csrf(dpo, url),
            "name": "Two hosts check",
            "purpose": "Checks that every web host serves the same logo.",
            "cycle_weekday": "4",
            "cycle_time": "17:00",
        },
        files={"logo": ("logo.png", image.getvalue(), "image/png")},
        headers={"Referer": url},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302, f"propose answered {response.status_code}"
    group_url = response.headers["Location"]
    pk = re.search(r"/groups/(\d+)/", group_url).group(1)
    served = {}
    for label, host in (("A", host_a), ("B", host_b)):
        # The session made on host A, used on host B: sessions live in the database.
        logo = dpo.get(f"{host}/groups/{pk}/logo.png", timeout=10, allow_redirects=False)
        assert logo.status_code == 200, f"host {label} answered {logo.status_code} for the logo"
        served[label] = logo.content
    pixel = Image.open(io.BytesIO(served["B"])).convert("RGB").getpixel((10, 10))
    same = served["A"] == served["B"] and pixel == (200, 30, 90)
    return {"logo_same_on_both_hosts": same, "logo_bytes": len(served["B"])}


def check_beats(processes: Processes, database_url: str, minutes: int) -> dict:
    # Wait for `minutes` whole minutes of ticks after the beats are up.
    start = time.time()
    first_tick = (int(start // 60) + 1) * 60
    time.sleep(max(0, first_tick + minutes * 60 + 20 - time.time()))
    rows = psql(
        "SELECT to_char(slot AT TIME ZONE 'UTC', 'HH24:MI'), count(*) FROM attestations_beattick "
        f"WHERE task = 'sweep' AND slot >= to_timestamp({first_tick}) GROUP BY slot ORDER BY slot",
        database_url,
    )
    effects = {line.split("|")[0]: int(line.split("|")[1]) for line in rows.splitlines() if line}
    worker_log = processes.log("worker")
    received = len(re.findall(r"Task attestations\.tasks\.sweep\[[^\]]+\] received", worker_log))
    skipped = worker_log.count("already ran (a second beat?)")
    return {
        "sweep_slots": effects,
        "sweep_messages_received": received,
        "sweep_copies_skipped": skipped,
        "one_effect_per_tick": len(effects) >= minutes and all(n == 1 for n in effects.values()),
    }


def page_times(session: requests.Session, url: str, seconds: float) -> list[float]:
    times, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = session.get(url, timeout=300)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        times.append(time.perf_counter() - started)
    return times


def measure_downloads(host: str, downloads: int, seconds: float) -> dict:
    auditor = sign_in(host, "scale-auditor")
    page = f"{host}/audit/exports/"
    quiet = page_times(auditor, page, seconds)
    results = []

    def download():
        session = sign_in(host, "scale-auditor")
        started, size = time.perf_counter(), 0
        with session.get(f"{host}/audit/exports/obligations.csv", stream=True, timeout=600) as response:
            assert response.status_code == 200, f"export answered {response.status_code}"
            for chunk in response.iter_content(1 << 16):
                size += len(chunk)
        results.append((time.perf_counter() - started, size))

    threads = [threading.Thread(target=download) for _ in range(downloads)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # the downloads have taken their workers
    busy = []
    while any(thread.is_alive() for thread in threads):
        busy += page_times(auditor, page, 2)
    for thread in threads:
        thread.join()
    lines = sum(size for _, size in results)
    return {
        "pages": len(quiet) + len(busy),
        "quiet_p50_ms": round(statistics.median(quiet) * 1000, 1),
        "quiet_max_ms": round(max(quiet) * 1000, 1),
        "busy_pages": len(busy),
        "busy_p50_ms": round(statistics.median(busy) * 1000, 1) if busy else None,
        "busy_max_ms": round(max(busy) * 1000, 1) if busy else None,
        "download_s": round(max(t for t, _ in results), 1),
        "download_mb_each": round(lines / len(results) / 1e6, 1),
    }


def scrape_metrics(host: str, pages: int, keep: Path) -> dict:
    """Scrape host A's /metrics: the export list's requests, added up over its three processes."""
    response = requests.get(f"{host}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30)
    assert response.status_code == 200, f"/metrics answered {response.status_code}"
    keep.write_text(response.text)
    counted = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "portal_http_requests_total" and sample.labels.get("view") == "audit:exports":
                counted += sample.value
    return {"pages_requested": pages, "pages_counted": counted, "scrape": str(keep)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--minutes", type=int, default=3, help="sweep ticks to watch (one a minute)")
    parser.add_argument("--downloads", type=int, default=3, help="CSV exports at once (default: one per sync worker)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--ports", default="8771,8772")
    args = parser.parse_args()
    port_a, port_b = (int(p) for p in args.ports.split(","))
    host_a, host_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"

    database = f"portal_hosts_{secrets.token_hex(4)}"
    database_url = f"{args.pg}/{database}"
    psql(f"CREATE DATABASE {database}", f"{args.pg}/postgres")
    scratch = Path(tempfile.mkdtemp(prefix="portal-hosts-"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": args.redis,
        "FILE_STORAGE": "database",
        "SWEEP_MINUTES": "1",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": host_a,
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "EMAIL_URL": "dummymail://",
        "AXES_FAILURE_LIMIT": "1000",
        "LOG_LEVEL": "INFO",
        "LOG_REQUESTS": "false",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "STATIC_ROOT": str(scratch / "static"),
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    processes = Processes(scratch, env)
    report: dict = {"staff": args.staff, "groups": args.groups, "weeks": args.weeks, "downloads": args.downloads}
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [PYTHON, "manage.py", "seed_scale", "--staff", str(args.staff), "--groups", str(args.groups),
             "--weeks", str(args.weeks)],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        report["obligations"] = int(psql("SELECT count(*) FROM attestations_obligation", database_url))
        gunicorn = [PYTHON, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
        processes.start("host-a", [*gunicorn, "--bind", f"127.0.0.1:{port_a}"])
        processes.start("host-b", [*gunicorn, "--bind", f"127.0.0.1:{port_b}"])
        processes.start("worker", [PYTHON, "-m", "celery", "-A", "opcc_portal", "worker", "--loglevel=INFO", "-c", "2"])
        processes.start("beat-1", [PYTHON, "-m", "celery", "-A", "opcc_portal", "beat", "--loglevel=INFO"])
        processes.start("beat-2", [PYTHON, "-m", "celery", "-A", "opcc_portal", "beat", "--loglevel=INFO"])
        wait_until_up(f"{host_a}/healthz")
        wait_until_up(f"{host_b}/healthz")

        report.update(check_logos(host_a, host_b))
        print(
            f"logos: the logo uploaded on A is served by B byte for byte: {report['logo_same_on_both_hosts']}",
            flush=True,
        )
        report["gthread"] = measure_downloads(host_a, args.downloads, seconds=10)
        print(f"downloads, gthread 3×8: {report['gthread']}", flush=True)
        report["metrics"] = scrape_metrics(host_a, report["gthread"]["pages"], scratch / "metrics.txt")
        print(f"metrics: {report['metrics']}", flush=True)
        report.update(check_beats(processes, database_url, args.minutes))
        print(
            f"beats: {report['sweep_messages_received']} sweep messages received, "
            f"{report['sweep_copies_skipped']} copies skipped; effects per minute {report['sweep_slots']}",
            flush=True,
        )
        processes.stop("beat-1")
        processes.stop("beat-2")
        processes.stop("host-a")
        processes.start(
            "host-a",
            [*gunicorn, "--bind", f"127.0.0.1:{port_a}", "--worker-class", "sync", "--workers", "3", "--threads", "1"],
        )
        wait_until_up(f"{host_a}/healthz")
        report["sync"] = measure_downloads(host_a, args.downloads, seconds=10)
        print(f"downloads, sync ×3: {report['sync']}")
    finally:
        processes.stop_all()
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"{args.pg}/postgres")
    print("JSON " + json.dumps(report))
    ok = (
        report.get("logo_same_on_both_hosts")
        and report.get("one_effect_per_tick")
        and report["metrics"]["pages_counted"] == report["metrics"]["pages_requested"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
