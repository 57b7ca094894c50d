"""Every query parameter of every page of the dashboard and the audit, with hostile values.

Out-of-range dates (year 1, year 9999), impossible and malformed dates, NUL bytes, very long
strings, signs, fractions and non-ASCII digits for ids and page numbers: each must get a
clear message (a 400 page, or the form's error with the page still usable), never a server
error, and never a file cut off part way. Every export answered must be complete (a CSV
whose rows all have the header's columns, an XLSX of its announced length that opens) and
leave no export-log row without its hash. Run on whichever database the suite runs on: CI
runs it on PostgreSQL, `make test` on a laptop on SQLite.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from attestations.audit.history import EXPORTS
from attestations.models import ExportLog
from tests.audit.conftest import make_record

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)

HOSTILE = [
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "31/12/2026",
    "\x00",
    "x" * 5000,
    "-1",
    "1.5",
    "9" * 30,
    "١٢",  # Arabic-Indic digits: int() reads them, a database id never has them
    "'; SELECT 1 --",
]
DATE_PAIRS = [
    {"from": "0001-01-01", "to": "9999-12-31"},
    {"from": "9999-12-31", "to": "9999-12-31"},
    {"from": "0001-01-01", "to": "0001-01-01"},
    {"from": "2026-11-01", "to": "9999-12-31"},
    {"from": "0001-01-01", "to": "2026-11-10"},
]

DATES = ("from", "to")
DASHBOARD = {
    "dashboard:index": (*DATES, "status", "attention", "held", "sort", "dir", "page"),
    "dashboard:trend_svg": DATES,
    "dashboard:groups_csv": (*DATES, "status", "attention", "held", "sort", "dir"),
    "dashboard:group": DATES,
    "dashboard:people": (*DATES, "q", "page"),
    "dashboard:person": DATES,
    "dashboard:obligations": (*DATES, "bucket", "week", "group", "latest", "page"),
    "dashboard:flags": (*DATES, "which", "page"),
    "dashboard:emails": (*DATES, "status", "kind", "group", "page"),
}
AUDIT = {
    "audit:history": ("kind", "group", "object", "by", *DATES, "page"),
    "audit:exports": ("group", *DATES),
    "audit:export_log": ("page",),
    "audit:foi_pack": ("group", *DATES),
    "audit:ledger": ("verify",),
    "audit:foi_exist_record": ("group", *DATES, "reference", "received", "received_by"),
    "audit:foi_exist_csv": ("group", *DATES, "reference", "received", "received_by"),
    "audit:subject_access": ("q",),
}
# A whole request to answer: each parameter's hostile value is tried in place of its own.
FOI_REQUEST = {"from": "2026-11-02", "to": "2026-11-08", "reference": "FOI-1", "received": "2026-11-09",
               "received_by": "Dana Price"}  # fmt: skip
EXPORT_PARAMS = ("group", *DATES)
# Every export reads its filters through one form: each kind gets every value of the dates
# (each kind filters on its own columns) and the shorter list for the group.
EXPORT_VALUES = {"from": HOSTILE, "to": HOSTILE, "group": ["\x00", "x" * 5000, "-1", "9" * 30, "١٢", "1.5"]}
PAGES = [*DASHBOARD, *AUDIT, *(f"audit:export:{kind}.{fmt}" for kind in EXPORTS for fmt in ("csv", "xlsx"))]


@pytest.fixture
def record(time_machine, group, member, admin_user, dpo):
    time_machine.move_to(NOW, tick=False)
    return make_record(group=group, member=member, admin_user=admin_user, dpo=dpo)


def _queries(name: str, record) -> tuple[str, list[dict]]:
    """The page's URL and the queries to try on it: each parameter with each hostile value."""
    if name.startswith("audit:export:"):
        kind, fmt = name.removeprefix("audit:export:").split(".")
        url = reverse("audit:export", args=[kind, fmt])
        return url, [{p: v} for p in EXPORT_PARAMS for v in EXPORT_VALUES[p]] + DATE_PAIRS
    args = {"dashboard:group": [record.group.pk], "dashboard:person": [record.attested.user_id]}.get(name, [])
    params = {**DASHBOARD, **AUDIT}[name]
    # The FOI pack is built only for a group: the other values are tried with one chosen.
    base = {"group": str(record.group.pk)} if name == "audit:foi_pack" else {}
    if name.startswith("audit:foi_exist"):
        base = {"group": str(record.group.pk), **FOI_REQUEST}
    queries = [{**base, p: v} for p in params for v in HOSTILE]
    if "from" in params:
        queries += [{**base, **pair} for pair in DATE_PAIRS]
    return reverse(name, args=args), queries


def _complete(response) -> str:
    """'' when the body is whole, else what is wrong with it."""
    content_type = response.get("Content-Type", "")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if response.status_code != 200:
        return "" if body else "an empty error page"
    if content_type.startswith("text/csv"):
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        if not rows or any(len(row) != len(rows[0]) for row in rows):
            return "a CSV with rows of the wrong width (cut off?)"
    elif "spreadsheetml" in content_type:
        from openpyxl import load_workbook

        if int(response["Content-Length"]) != len(body):
            return "an XLSX shorter than its Content-Length"
        load_workbook(io.BytesIO(body), read_only=True)
    elif content_type.startswith("text/html") and b"</html>" not in body:
        return "an HTML page cut off"
    return ""


@pytest.mark.parametrize("role", ["dpo", "auditor"])
@pytest.mark.parametrize("name", PAGES)
def test_no_query_value_breaks_a_page(client, request, record, role, name):
    client.force_login(request.getfixturevalue(role))
    url, queries = _queries(name, record)
    problems = []
    for query in queries:
        try:
            response = client.get(url, query)
            problem = _complete(response)
            if response.status_code >= 500:
                problem = f"status {response.status_code}"
        except Exception as exc:  # noqa: BLE001 - every failure is reported, with its query
            problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        if problem:
            problems.append(f"{ {k: v[:40] for k, v in query.items()} }: {problem}")
    unhashed = ExportLog.objects.filter(sha256="").count()
    assert not problems, f"{url} as {role}:\n" + "\n".join(problems)
    assert unhashed == 0, f"{unhashed} export-log rows without a hash"


# --- What the person is told ----------------------------------------------------------------


def test_the_dashboard_says_a_date_is_out_of_range_and_shows_the_default_weeks(client, record, dpo):
    client.force_login(dpo)
    html = client.get(reverse("dashboard:index"), {"to": "9999-12-31"}).content.decode()
    assert "To: Give a date from 1 January 2000 to 31 December 2099. Showing the last 26 weeks instead." in html
    html = client.get(reverse("dashboard:flags"), {"from": "2026-02-30"}).content.decode()
    assert "From: Give a real date, such as 2026-11-13." in html


def test_a_week_out_of_range_is_named_and_every_week_shown(client, record, auditor):
    client.force_login(auditor)
    response = client.get(reverse("dashboard:obligations"), {"week": "9999-12-31"})
    assert response.status_code == 200
    assert "Week: Give a date from 1 January 2000 to 31 December 2099. Showing every week instead." in (
        response.content.decode()
    )


def test_a_nul_in_the_people_search_is_ignored(client, record, dpo):
    client.force_login(dpo)
    response = client.get(reverse("dashboard:people"), {"q": "mem\x00ber"})
    assert response.status_code == 200 and "Morgan Lee" in response.content.decode()


@pytest.mark.parametrize(
    "url", ["/audit/exports/obligations.csv", "/audit/exports/history.xlsx", "/dashboard/groups.csv"]
)
def test_an_export_with_a_date_out_of_range_is_refused_before_it_starts(client, record, auditor, url):
    client.force_login(auditor)
    response = client.get(url, {"from": "0001-01-01", "to": "9999-12-31"})
    assert response.status_code == 400
    assert response.content.decode() == (
        "Bad filters: From: Give a date from 1 January 2000 to 31 December 2099. "
        "To: Give a date from 1 January 2000 to 31 December 2099.\n"
    )
    assert not ExportLog.objects.exists()
