"""CSV and XLSX files of the record: streamed, spreadsheet-safe, hashed and logged.

- CSV is streamed: rows are read from the database in chunks and written out as they
  come, so memory stays flat however many rows there are. Its SHA-256 is computed on the
  way and stored in the export's log row when the last byte has gone; the response names
  that log row (`X-Export-Log`, `Link`) because headers leave before the body is known.
- XLSX is built with openpyxl's write-only mode (rows go to a temporary file on disk,
  never a tree in memory), then hashed and sent with the hash in its headers
  (`Digest: sha-256=…`, `X-Content-SHA256`).
- Any text cell that a spreadsheet would read as a formula (it begins with = + - @, a
  tab or a carriage return) is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import tempfile
from collections.abc import Iterator

from django.db.models import F
from django.utils import timezone

from .audit import Filters
from .models import ExportLog

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Characters that XML 1.0 (and so XLSX) cannot hold: they are dropped from XLSX cells.
_XML_ILLEGAL = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]}


def neutralise(value: str) -> str:
    """Make a text cell inert in a spreadsheet (OWASP's CSV injection advice)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell(value) -> str | int:
    """One value as written to a file: text, a number, or an ISO 8601 date or time."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if kind is int:
        return value
    if kind is bool:
        return "yes" if value else "no"
    if kind is dt.datetime:
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return neutralise(str(value))


class _Echo:
    """A file-like object whose write returns what it was given, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def export_log_start(*, user, kind: str, fmt: str, filters: Filters) -> ExportLog:
    return ExportLog.objects.create(
        user=user, kind=kind, format=fmt, filters=filters.as_dict(), started_at=timezone.now()
    )


def export_log_finish(*, log: ExportLog, rows: int, size: int, sha256: str) -> None:
    # A conditional UPDATE: a log row is finished once and never rewritten.
    ExportLog.objects.filter(pk=log.pk, finished_at__isnull=True).update(
        finished_at=timezone.now(), rows=rows, size=size, sha256=sha256
    )
    log.rows, log.size, log.sha256 = rows, size, sha256


def csv_stream(*, headers: list[str], batches: Iterator[list[tuple]], log: ExportLog) -> Iterator[bytes]:
    """Yield the CSV file in pieces (one per batch of rows), hashing it as it goes."""
    writer = csv.writer(_Echo())
    digest = hashlib.sha256()
    size = rows = 0
    # A byte-order mark so that Excel reads UTF-8 names correctly.
    head = ("\ufeff" + writer.writerow(headers)).encode()
    digest.update(head)
    size += len(head)
    yield head
    for batch in batches:
        chunk = "".join([writer.writerow([cell(v) for v in row]) for row in batch]).encode()
        digest.update(chunk)
        size += len(chunk)
        rows += len(batch)
        yield chunk
    export_log_finish(log=log, rows=rows, size=size, sha256=digest.hexdigest())


def xlsx_build(*, title: str, headers: list[str], batches: Iterator[list[tuple]], log: ExportLog):
    """Write the workbook to a temporary file; return (file, sha256 hex, size)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(headers)
    rows = 0
    for batch in batches:
        for row in batch:
            sheet.append([_xlsx_cell(v) for v in row])
        rows += len(batch)
    # Deleted when the response closes it (FileResponse closes its file at the end).
    out = tempfile.TemporaryFile()  # noqa: SIM115
    workbook.save(out)
    out.seek(0)
    digest = hashlib.sha256()
    size = 0
    for piece in iter(lambda: out.read(1 << 16), b""):
        digest.update(piece)
        size += len(piece)
    out.seek(0)
    export_log_finish(log=log, rows=rows, size=size, sha256=digest.hexdigest())
    return out, digest.hexdigest(), size


def _xlsx_cell(value):
    value = cell(value)
    if type(value) is str:
        # openpyxl would store text starting with "=" as a formula: cell() has already
        # neutralised those; control characters are not allowed in the file at all.
        return value.translate(_XML_ILLEGAL)
    return value


def digest_header(hex_digest: str) -> str:
    """RFC 3230 `Digest` value: the SHA-256 in base64."""
    return "sha-256=" + base64.b64encode(bytes.fromhex(hex_digest)).decode()


def export_logs(*, user=None):
    qs = ExportLog.objects.select_related("user").order_by(F("started_at").desc(), "-pk")
    return qs.filter(user=user) if user is not None else qs
