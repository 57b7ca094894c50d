"""CSV and XLSX files of the record: streamed, spreadsheet-safe, hashed and logged.

- CSV is streamed: rows are read from the database in chunks and written out as they
  come, so memory stays flat however many rows there are. Its SHA-256 is computed on the
  way and stored in the export's log row when the last byte has gone; the response names
  that log row (`X-Export-Log`, `Link`) because headers leave before the body is known.
- On PostgreSQL the CSV of an export of plain columns is written by the database itself
  (`COPY (the export's query, each column formatted in SQL) TO STDOUT`): Python only hashes,
  counts and passes the bytes on. Elsewhere (SQLite) and for the change history, Python
  writes it with the csv module. Both give the same bytes.
- XLSX is written as it is sent, like CSV: a zip made on the way, whose sheet's rows are
  appended as they are read (by PostgreSQL's COPY on PostgreSQL), so memory stays flat and
  the first byte leaves at once. Its hash goes to the export log as for CSV; a small
  workbook (XLSX_WHOLE_ROWS) is made whole first and carries its hash in its headers too
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
import zipfile
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import escape

import psycopg
from django.db import connection, transaction
from django.db.models import F, Func, QuerySet, TextField
from django.utils import timezone

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


# --- XLSX ----------------------------------------------------------------------------------
#
# The workbook is written as it is sent: a zip (deflate, with data descriptors, so nothing is
# ever sought back to) of a few fixed parts and one sheet whose rows are appended as they are
# read. Text goes in inline strings, so no table of every string is kept; numbers are numbers.
# The sheet's XML is made by PostgreSQL in the same COPY as the CSV (each row one line of
# XML), or by Python elsewhere and for the change history: both give the same bytes.

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A workbook of at most this many rows is made whole before it is sent, so its SHA-256 goes in
# the response's headers too; a larger one is sent as it grows (first byte at once) and its
# hash is in the export log only, as for CSV. About a tenth of a second of work.
XLSX_WHOLE_ROWS = 10_000
# Deflate's fastest level: a sheet of inline strings repeats itself so much that it still
# shrinks about tenfold, at several times the speed of the default level.
_XLSX_COMPRESSLEVEL = 1

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_DOC_RELS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_MAIN}">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}
_SHEET_HEAD = f'<worksheet xmlns="{_MAIN}"><sheetData>\n'
_SHEET_TAIL = "</sheetData></worksheet>"
_EMPTY_CELL = "<c/>"
_TEXT_OPEN, _TEXT_CLOSE = '<c t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>"
_NUMBER_OPEN, _NUMBER_CLOSE = "<c><v>", "</v></c>"
# XML's three special characters escaped; tab, line feed and carriage return kept as character
# references (a parser would turn a bare carriage return into a line feed); every other control
# character is one XML 1.0 cannot hold at all, and is dropped.
_XML_TEXT = {
    **_XML_ILLEGAL,
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    9: "&#9;",
    10: "&#10;",
    13: "&#13;",
}
# PostgreSQL's text never holds NUL (0), so it is not listed.
_CONTROL_SQL = "E'" + "".join(f"\\x{c:02x}" for c in _XML_ILLEGAL if c) + "'"
_TEXT_XML_SQL = (
    "replace(replace(replace(replace(replace(replace(translate({x}, " + _CONTROL_SQL + ", ''), "
    "'&', '&amp;'), '<', '&lt;'), '>', '&gt;'), chr(9), '&#9;'), chr(10), '&#10;'), chr(13), '&#13;')"
)
# The CSV kinds whose SQL formatting can only give digits, letters and punctuation that XML
# takes as it is: their cells need no escaping.
_XML_SAFE_KINDS = {"bool", "datetime", "date", "time"}


def _xml_cell(value) -> str:
    value = cell(value)
    if type(value) is int:
        return f"{_NUMBER_OPEN}{value}{_NUMBER_CLOSE}"
    if not value:
        return _EMPTY_CELL
    return _TEXT_OPEN + value.translate(_XML_TEXT) + _TEXT_CLOSE


def _xml_row(values) -> str:
    return "<row>" + "".join(map(_xml_cell, values)) + "</row>"


def _xml_rows_python(batches: Iterable[list[tuple]]) -> Iterator[tuple[bytes, int]]:
    for batch in batches:
        yield ("\n".join(map(_xml_row, batch)) + "\n").encode(), len(batch)


def _xml_cell_sql(kind: str) -> str:
    """The SQL that makes one cell's XML from a column ({x}), as _xml_cell() does.

    `kind` is a CSV kind, or "choice": text that is one of a fixed list of plain words.
    """
    if kind == "int":
        return f"CASE WHEN {{x}} IS NULL THEN '{_EMPTY_CELL}' ELSE '{_NUMBER_OPEN}' || {{x}} || '{_NUMBER_CLOSE}' END"
    if kind == "choice":
        text = COLUMN_KINDS["text"][1]
    elif kind in _XML_SAFE_KINDS:
        text = COLUMN_KINDS[kind][1]
    else:
        text = _TEXT_XML_SQL.replace("{x}", f"({COLUMN_KINDS[kind][1]})")
    # '' became NULL in the CSV's formatting: both are an empty cell.
    return f"COALESCE('{_TEXT_OPEN}' || {text} || '{_TEXT_CLOSE}', '{_EMPTY_CELL}')"


def _plain_choices(field) -> bool:
    """Whether a column's values can only be choices made of letters, digits and underscores."""
    while field.is_relation:
        field = field.target_field
    return bool(field.choices) and all(
        isinstance(value, str) and value.replace("_", "").isalnum() for value, _ in field.flatchoices
    )


class _XmlRow(Func):
    """One row of the sheet as XML, made by the database from the export's columns."""

    output_field = TextField()

    def __init__(self, lookups: list[str], kinds: list[str]):
        super().__init__(*(F(lookup) for lookup in lookups))
        self.kinds = kinds

    def as_sql(self, compiler, connection, **extra):
        parts, params = [], []
        for expression, kind in zip(self.source_expressions, self.kinds, strict=True):
            sql, column_params = compiler.compile(expression)
            template = _xml_cell_sql(kind)
            parts.append(template.replace("{x}", sql))
            params.extend(tuple(column_params) * template.count("{x}"))
        return "('<row>' || " + " || ".join(parts) + " || '</row>')", tuple(params)


def _xml_rows_copy(values: QuerySet, kinds: list[str], chunk_size: int) -> Iterator[tuple[bytes, int]]:
    """(bytes, rows) of the sheet's rows, made by PostgreSQL: one COPY, as for the CSV.

    COPY's text format escapes only backslashes here (every control character has become a
    character reference or was dropped), so doubling them back is all that Python does.
    """
    # A text column whose values are a fixed list of choices XML takes as they are (a status)
    # needs no escaping either.
    kinds = [
        "choice" if kind == "text" and _plain_choices(col.output_field) else kind
        for col, kind in zip(values.query.select, kinds, strict=True)
    ]
    row_sql, params = values.values_list(_XmlRow(list(values.query.values_select), kinds)).query.sql_with_params()
    connection.ensure_connection()
    query = psycopg.ClientCursor(connection.connection).mogrify(row_sql, params)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        # Compiling this long expression to machine code takes longer than running it.
        cursor.execute("SET LOCAL jit = off")
        with cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
            pieces: list = []
            read, append = copy.read, pieces.append
            while row := read():
                append(row)
                if len(pieces) == chunk_size:
                    yield b"".join(pieces).replace(b"\\\\", b"\\"), chunk_size
                    pieces = []
                    append = pieces.append
            if pieces:
                yield b"".join(pieces).replace(b"\\\\", b"\\"), len(pieces)


class _Spool:
    """A write-only file for zipfile: what is written is taken away piece by piece."""

    def __init__(self):
        self.pieces: list[bytes] = []

    def write(self, data) -> int:
        self.pieces.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.pieces)
        self.pieces.clear()
        return data


def _xlsx_pieces(title: str, headers: list[str], rows: Iterator[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
    """(bytes, rows so far) of the workbook, made as the sheet's rows come."""
    spool = _Spool()
    written = 0
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED, compresslevel=_XLSX_COMPRESSLEVEL) as book:
        for name, xml in _XLSX_PARTS.items():
            book.writestr(name, _XML_HEAD + xml)
        sheet_name = escape(title[:31], {'"': "&quot;"})
        book.writestr(
            "xl/workbook.xml",
            f'{_XML_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}">'
            f'<sheets><sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write((_XML_HEAD + _SHEET_HEAD + _xml_row(headers) + "\n").encode())
            yield spool.take(), 0
            for data, n in rows:
                sheet.write(data)
                written += n
                yield spool.take(), written
            sheet.write(_SHEET_TAIL.encode())
    yield spool.take(), written


def xlsx_export(
    *, spec: ExportSpec, filters: Filters, log: ExportLog, chunk_size: int | None = None, method: str = ""
) -> Iterator[tuple[bytes, int]]:
    """Yield one export's XLSX file in pieces, with the rows written so far, hashing it as it
    goes; the export log is finished after the last piece. By COPY on PostgreSQL as for CSV."""
    chunk_size = chunk_size or audit.CHUNK_SIZE
    rows: Iterator[tuple[bytes, int]]
    kinds = column_kinds(spec.values(filters)) if spec.columns else [None]
    if spec.columns and None not in kinds and (method == "copy" or (not method and connection.vendor == "postgresql")):
        rows = _xml_rows_copy(spec.values(filters), kinds, chunk_size)
    else:
        rows = _xml_rows_python(spec.rows(filters, chunk_size=chunk_size))
    digest, size = hashlib.sha256(), 0
    for piece, written in _xlsx_pieces(spec.title, spec.headers, rows):
        digest.update(piece)
        size += len(piece)
        yield piece, written
    export_log_finish(log=log, rows=written, size=size, sha256=digest.hexdigest())


def xlsx_head(pieces: Iterator[tuple[bytes, int]], *, spec: ExportSpec, filters: Filters) -> tuple[list[bytes], bool]:
    """The whole file if it has at most XLSX_WHOLE_ROWS rows: (pieces, True); else ([], False),
    and nothing read yet, so the file is made as the response is sent.

    An export is counted first (up to one row more than the limit) when it can be: an export
    of columns, whose COPY holds the connection while it runs, so it must not be left open
    when the view returns (the middleware then queries on the same connection); and the
    change history (`count_at_most`), whose rows are described in Python: reading 10,000 of
    them to find it is long took two seconds before the first byte of a force's history.
    Any other export is read until the limit.
    """
    if spec.columns or spec.count_at_most:
        limit = XLSX_WHOLE_ROWS + 1
        found = spec.count_at_most(filters, limit) if spec.count_at_most else spec.values(filters)[:limit].count()
        if found > XLSX_WHOLE_ROWS:
            return [], False
        return [piece for piece, _ in pieces], True
    head = []
    for piece, written in pieces:
        head.append(piece)
        if written > XLSX_WHOLE_ROWS:
            return head, False
    return head, True


def digest_header(hex_digest: str) -> str:
    """RFC 3230 `Digest` value: the SHA-256 in base64."""
    return "sha-256=" + base64.b64encode(bytes.fromhex(hex_digest)).decode()


def export_logs(*, user=None):
    qs = ExportLog.objects.select_related("user").order_by(F("started_at").desc(), "-pk")
    return qs.filter(user=user) if user is not None else qs
