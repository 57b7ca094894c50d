"""CSV and XLSX files of the record: streamed, spreadsheet-safe, hashed and logged.

- CSV is streamed: rows are read from the database in chunks and written out as they
  come, so memory stays flat however many rows there are. Its SHA-256 is computed on the
  way and stored in the export's log row when the last byte has gone; the response names
  that log row (`X-Export-Log`, `Link`) because headers leave before the body is known.
- On PostgreSQL the CSV of an export of plain columns is written by the database itself
  (`COPY (the export's query, each column formatted in SQL) TO STDOUT`): Python only hashes,
  counts and passes the bytes on. Elsewhere (SQLite) and for the change history, Python
  writes it with the csv module. Both give the same bytes.
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
import io
import tempfile
from collections.abc import Iterable, Iterator

import psycopg
from django.db import connection, transaction
from django.db.models import F, Func, QuerySet, TextField
from django.utils import timezone
from openpyxl import Workbook

from opcc_portal.lib.text import FORMULA_STARTS, neutralise

from ..models import ExportLog
from . import history as audit
from .history import ExportSpec, Filters

# Characters that XML 1.0 (and so XLSX) cannot hold: they are dropped from XLSX cells.
_XML_ILLEGAL = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]}


def cell(value) -> str | int:
    """One value as written to a file: text, a number, or an ISO 8601 date or time."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return neutralise(value)
    if kind is int:
        return value
    if kind is bool:
        return "yes" if value else "no"
    if kind is dt.datetime:
        return _utc_iso(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return neutralise(str(value))


def _utc_iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


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


# --- CSV -----------------------------------------------------------------------------------

# How each kind of column is written: by a Python function (None: as it comes) and by an SQL
# template for COPY ({x} is the column). The two must give the same bytes, as cell() would:
# tests/audit/test_export_paths.py compares them on PostgreSQL. COPY writes NULL as nothing
# but '' as "", where the csv module writes both as nothing: so SQL turns '' into NULL.
# ascii() gives the first character's code (0 for ''): cheaper than comparing text.
_STARTS_SQL = ", ".join(str(ord(c)) for c in FORMULA_STARTS)
COLUMN_KINDS = {
    "int": (None, "{x}"),
    "text": (neutralise, "CASE WHEN ascii({x}) IN (" + _STARTS_SQL + ") THEN '''' || {x} ELSE NULLIF({x}, '') END"),
    "bool": (lambda v: "yes" if v else "no", "CASE WHEN {x} THEN 'yes' WHEN NOT {x} THEN 'no' END"),
    # isoformat() leaves the fraction of a second out when it is zero; so does the replace().
    "datetime": (
        _utc_iso,
        """replace(to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), '.000000+', '+')""",
    ),
    "date": (dt.date.isoformat, "to_char({x}, 'YYYY-MM-DD')"),
    "time": (dt.time.isoformat, "replace(to_char({x}, 'HH24:MI:SS.US'), '.000000', '')"),
}
_KIND_OF_FIELD = {
    **dict.fromkeys(
        ["AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
         "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField"],
        "int",
    ),
    **dict.fromkeys(["CharField", "TextField", "SlugField", "EmailField", "URLField"], "text"),
    "BooleanField": "bool",
    "DateTimeField": "datetime",
    "DateField": "date",
    "TimeField": "time",
}  # fmt: skip


def column_kinds(values: QuerySet) -> list[str | None]:
    """The kind of each column of a values_list() query; None for a kind not listed above."""
    kinds = []
    for col in values.query.select:
        field = col.output_field
        while field.is_relation:
            field = field.target_field
        kinds.append(_KIND_OF_FIELD.get(field.get_internal_type()))
    return kinds


class _SqlFormat(Func):
    """A column written out by an SQL template that may name the column more than once."""

    output_field = TextField()

    def __init__(self, expression, template: str):
        super().__init__(expression)
        self.sql_template = template

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        uses = self.sql_template.count("{x}")
        return self.sql_template.replace("{x}", sql), tuple(params) * uses


def copy_to_stdout(sql: str, params, *, header: bool = False) -> str:
    """`COPY (query) TO STDOUT` as CSV; COPY takes no bound parameters, so they are merged in."""
    connection.ensure_connection()
    query = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv{', HEADER' if header else ''})"


def copy_statement(values: QuerySet, kinds: list[str]) -> str:
    """COPY of the export's own query, with each column formatted in SQL as Python would."""
    lookups = values.query.values_select
    columns = [_SqlFormat(F(lookup), COLUMN_KINDS[kind][1]) for lookup, kind in zip(lookups, kinds, strict=True)]
    return copy_to_stdout(*values.values_list(*columns).query.sql_with_params())


def _copy_chunks(values: QuerySet, kinds: list[str], chunk_size: int) -> Iterator[tuple[bytes, int]]:
    """(bytes, rows) of the file's body, from PostgreSQL's COPY, `chunk_size` rows a piece.

    The server sends each row as one message (a rule of its protocol) ending in "\\n"; the
    csv module ends rows with "\\r\\n", so that last byte is swapped. A newline inside a
    quoted cell is never a row's last byte, so it stays as the csv module writes it.
    One statement reads one snapshot, with no server-side cursor to keep open. A client
    that hangs up closes this generator: psycopg then cancels the COPY and the transaction
    rolls back.

    The formatting makes each row look dear to the planner, which then splits the query
    among parallel workers: each worker walks the whole ledger index for its merge join, or
    sorts on disk (on the force-size data: about 0.6 of the unformatted query's speed,
    against about 0.75 without; README, "Figures"). Without parallel workers the plan is the
    unformatted query's: the obligations in key order, nested loops, no sort. SET LOCAL
    ends with the transaction, so the connection's next user has the usual settings.
    """
    statement = copy_statement(values, kinds)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        with cursor.copy(statement) as copy:
            rows: list = []
            read, append = copy.read, rows.append  # a million rows: every lookup per row counts
            while row := read():
                append(row[:-1])
                if len(rows) == chunk_size:
                    rows.append(b"")
                    yield b"\r\n".join(rows), chunk_size
                    rows = []
                    append = rows.append
            if rows:
                n = len(rows)
                rows.append(b"")
                yield b"\r\n".join(rows), n


def _python_chunks(batches: Iterable[list[tuple]], kinds: list[str] | None) -> Iterator[tuple[bytes, int]]:
    """(bytes, rows) of the file's body, written by the csv module, a piece per batch.

    With the columns' kinds known, only the columns that need it are converted, each by its
    kind's function; otherwise every value goes through cell().
    """
    if kinds is None:

        def convert(row: tuple) -> list:
            return [cell(v) for v in row]

    else:
        steps = [(i, COLUMN_KINDS[kind][0]) for i, kind in enumerate(kinds) if COLUMN_KINDS[kind][0]]

        def convert(row: tuple) -> list:
            out = list(row)
            for i, write in steps:
                if out[i] is not None:
                    out[i] = write(out[i])
            return out

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for batch in batches:
        writer.writerows(map(convert, batch))
        yield buffer.getvalue().encode(), len(batch)
        buffer.seek(0)
        buffer.truncate()


def _hashed(headers: list[str], chunks: Iterator[tuple[bytes, int]], log: ExportLog) -> Iterator[bytes]:
    """Yield the file (a header line, then the chunks), hashing and counting as it goes."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(headers)
    # A byte-order mark so that Excel reads UTF-8 names correctly.
    head = ("\ufeff" + buffer.getvalue()).encode()
    digest = hashlib.sha256(head)
    size, rows = len(head), 0
    yield head
    for chunk, n in chunks:
        digest.update(chunk)
        size += len(chunk)
        rows += n
        yield chunk
    export_log_finish(log=log, rows=rows, size=size, sha256=digest.hexdigest())


def csv_stream(*, headers: list[str], batches: Iterable[list[tuple]], log: ExportLog) -> Iterator[bytes]:
    """Yield the CSV file of any rows in pieces (one per batch of rows), hashing it as it goes."""
    return _hashed(headers, _python_chunks(batches, None), log)


def csv_export(
    *, spec: ExportSpec, filters: Filters, log: ExportLog, chunk_size: int | None = None, method: str = ""
) -> Iterator[bytes]:
    """Yield one export's CSV file in pieces, hashing it as it goes.

    By COPY on PostgreSQL when every column is of a kind listed in COLUMN_KINDS, else by
    Python. `method` ("copy" or "python") forces one, for the tests that compare them.
    """
    chunk_size = chunk_size or audit.CHUNK_SIZE
    if not spec.columns:
        return csv_stream(headers=spec.headers, batches=spec.rows(filters, chunk_size=chunk_size), log=log)
    values = spec.values(filters)
    kinds = column_kinds(values)
    known = None not in kinds
    if method == "copy" or (not method and known and connection.vendor == "postgresql"):
        return _hashed(spec.headers, _copy_chunks(values, kinds, chunk_size), log)
    batches = spec.rows(filters, chunk_size=chunk_size)
    return _hashed(spec.headers, _python_chunks(batches, kinds if known else None), log)


def xlsx_build(*, title: str, headers: list[str], batches: Iterator[list[tuple]], log: ExportLog):
    """Write the workbook to a temporary file; return (file, sha256 hex, size)."""
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
