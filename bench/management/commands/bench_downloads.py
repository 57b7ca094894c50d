"""Download every export through a real gunicorn on loopback: first byte, total, memory.

    DATABASE_URL=postgres://…/portal_bench python manage.py seed_scale --staff 10000 --groups 1000 --weeks 52
    DATABASE_URL=postgres://…/portal_bench python manage.py bench_downloads

Starts gunicorn as the Procfile does (gthread workers, its default timeout: 30 s), signs an auditor in with a
session made in the database, and downloads each export in CSV and XLSX over HTTP on
127.0.0.1, reading the body as a browser would. For each it prints the time to the first
byte of the body, the total time, the size, and the peak resident memory of the gunicorn
worker that served it (a fresh gunicorn for each download, so each peak is its own). An XLSX
is opened with openpyxl and its sheet's rows counted against the export log.
Then the clear-downs CSV against PostgreSQL's `COPY (the same query) TO STDOUT`, read in this
process, in the same run: both rates and the ratio.
"""

from __future__ import annotations

import http.client
import itertools
import os
import tempfile
import time
import zipfile
from pathlib import Path

import psutil
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from openpyxl import load_workbook

from attestations.audit import exports
from attestations.audit import history as audit
from attestations.models import ExportLog
from bench.serve import Gunicorn, signed_in_cookie

ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    help = "Download the exports through gunicorn on loopback: first byte, total time, worker memory."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8791)
        parser.add_argument("--kinds", default=",".join(k for k in audit.EXPORTS), help="Comma-separated kinds.")
        parser.add_argument("--formats", default="csv,xlsx")
        parser.add_argument(
            "--worker-class", default="gthread", help="gunicorn's --worker-class: the Procfile's (gthread), or sync"
        )

    def handle(self, *args, port: int, kinds: str, formats: str, worker_class: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_downloads needs PostgreSQL: point DATABASE_URL at the benchmark database.")
        auditor = get_user_model().objects.filter(groups__name="Auditor", is_active=True).order_by("pk").first()
        if auditor is None:
            raise CommandError("No auditor: run `manage.py seed_scale` on this database first.")
        cookie = signed_in_cookie(auditor)
        w = self.stdout.write
        w(f"gunicorn on 127.0.0.1:{port}, default timeout (30 s), load average {os.getloadavg()[0]:.1f}")
        w(f"  {'export':<24} {'first byte':>10} {'total':>8} {'size':>10} {'rows':>9}  worker peak RSS")
        for kind in kinds.split(","):
            for fmt in formats.split(","):
                self._one(kind, fmt, port, cookie, worker_class)
        self._csv_against_copy(port, cookie, worker_class)
        w(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    def _one(self, kind: str, fmt: str, port: int, cookie: str, worker_class: str) -> dict:
        with Gunicorn(port, worker_class) as master, tempfile.TemporaryFile() as body:
            result = _download(port, f"/audit/exports/{kind}.{fmt}", cookie, body, master)
            if result["log"] is None:
                raise CommandError(f"{kind}.{fmt}: HTTP {result['status']}, no export log")
            log = ExportLog.objects.get(pk=result["log"])
            rows = log.rows
            if fmt == "xlsx" and result["status"] == 200:
                opened = _xlsx_rows(body)
                if opened != log.rows:
                    raise CommandError(f"{kind}.xlsx: {opened} rows in the file, {log.rows} in the log")
        status = "" if result["status"] == 200 else f"  HTTP {result['status']}"
        if result["status"] == 200 and not log.sha256:
            status += "  (no hash logged: the download did not finish)"
        self.stdout.write(
            f"  {kind + '.' + fmt:<24} {result['first'] * 1000:>8.0f} ms {result['total']:>6.1f} s "
            f"{result['bytes'] / 1e6:>8.1f} MB {rows or 0:>9,}  {result['peak_mb']:.0f} MB{status}"
        )
        return result

    def _csv_against_copy(self, port: int, cookie: str, worker_class: str) -> None:
        statement = exports.copy_to_stdout(*audit.EXPORTS["obligations"].sql(audit.Filters()), header=True)
        started = time.perf_counter()
        size = 0
        with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for block in copy:
                size += len(block)
        copy_seconds = time.perf_counter() - started
        with Gunicorn(port, worker_class) as master, tempfile.TemporaryFile() as body:
            result = _download(port, "/audit/exports/obligations.csv", cookie, body, master)
        rows = ExportLog.objects.get(pk=result["log"]).rows
        copy_rate, portal_rate = rows / copy_seconds, rows / result["total"]
        self.stdout.write(
            f"clear-downs CSV, {rows:,} rows: COPY … TO STDOUT {copy_seconds:.1f} s ({copy_rate:,.0f} rows/s), "
            f"portal through gunicorn {result['total']:.1f} s ({portal_rate:,.0f} rows/s): "
            f"ratio {portal_rate / copy_rate:.2f} (target >= 0.50)"
        )


def _download(port: int, path: str, cookie: str, sink, master: psutil.Process) -> dict:
    workers = master.children()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
    response = conn.getresponse()
    first = None
    size = 0
    while piece := response.read1(1 << 16):
        if first is None:
            first = time.perf_counter() - started
        size += len(piece)
        sink.write(piece)
    total = time.perf_counter() - started
    peak = max((_peak_rss_mb(p) for p in workers), default=0.0)
    return {
        "status": response.status,
        "first": first or total,
        "total": total,
        "bytes": size,
        "peak_mb": peak,
        "log": response.getheader("X-Export-Log"),
    }


def _peak_rss_mb(process: psutil.Process) -> float:
    """The process's peak resident set size (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _xlsx_rows(body) -> int:
    """Rows of the sheet below its header: openpyxl opens the file and reads its first rows,
    then the sheet's XML is read through (openpyxl would take minutes for a million rows)."""
    body.seek(0)
    sheet = load_workbook(body, read_only=True).active
    head = list(itertools.islice(sheet.iter_rows(values_only=True), 3))
    if not head or not head[0][0]:
        raise CommandError("The workbook opens with no header row.")
    body.seek(0)
    rows, tail = 0, b""
    with zipfile.ZipFile(body) as book, book.open("xl/worksheets/sheet1.xml") as xml:
        while piece := xml.read(1 << 20):
            # Four bytes kept from the last piece: a "<row>" split between two is counted once.
            rows += (tail + piece).count(b"<row>")
            tail = piece[-4:]
    return rows - 1
