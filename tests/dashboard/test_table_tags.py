"""The dashboard's rows of groups and of weeks, built as plain strings for speed, say the same
as the template they replaced (Django's escaping, number and date formatting) for every kind
of row."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.template import Context, Template

from attestations.dashboard.stats import GroupRow, StripCell, Tally, Week
from attestations.templatetags.dashboard import group_rows, week_rows

# The rows as the dashboard's template wrote them before `group_rows`: the yardstick.
DJANGO_ROWS = Template((Path(__file__).parent / "group_rows_yardstick.html").read_text())
DJANGO_WEEKS = Template((Path(__file__).parent / "week_rows_yardstick.html").read_text())

RANGE_QS = "from=2026-06-01&to=2026-11-30"
OBLIGATIONS = "/dashboard/obligations/"


def same_html(html: str) -> str:
    """Whitespace between tags and at the ends of text left out: the two differ only there."""
    return re.sub(r"\s*<", "<", re.sub(r">\s*", ">", html)).strip()


def row(pk=1, **fields) -> GroupRow:
    defaults = {
        "name": f"Group {pk}",
        "status": "approved",
        "status_changed_at": None,
        "admin_name": "Ada Admin",
        "admin_sort": ("admin", "ada", "ada"),
        "deputy_name": "",
        "members": 12,
        "last_prompt_at": None,
        "on_hold": False,
    }
    r = GroupRow(pk=pk, **{**defaults, **fields})
    r.url = f"/dashboard/groups/{pk}/"
    return r


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def every_kind_of_row() -> list[GroupRow]:
    strip = [
        StripCell(cycle_id=1, period_start=None, period_end=utc(2026, 11, 20, 17), held=False, tally=Tally(on_time=3)),
        StripCell(cycle_id=2, period_start=None, period_end=utc(2026, 11, 27, 17), held=True, tally=Tally(held=3)),
    ]
    return [
        # Everyone on time, prompted in summer (BST) and in winter (GMT), a deputy.
        row(1, latest=Tally(on_time=4), last_prompt_at=utc(2026, 7, 3, 16, 5), deputy_name="Dee Deputy", strip=strip),
        row(2, latest=Tally(on_time=1, late=1, overdue=1), last_prompt_at=utc(2026, 11, 27, 8, 0)),
        # Nothing owed; open flags; needs attention.
        row(3, latest=Tally(excused=2), open_overdue_flags=2, open_prompt_flags=1),
        # Half done, rounded half up (1 of 3 = 33.3 %, 2 of 3 = 66.7 %).
        row(4, latest=Tally(on_time=2, outstanding=1)),
        row(5, latest=Tally(on_time=1, outstanding=2)),
        # Suspended on a date, not held: still owed. Retired and held. Approved and held.
        row(6, status="suspended", status_changed_at=utc(2026, 10, 25, 23, 30), latest=Tally(overdue=3)),
        row(7, status="retired", status_changed_at=utc(2026, 3, 1, 9), on_hold=True),
        row(8, on_hold=True, latest=Tally(held=5)),
        row(9, status="proposed", members=0),
        # Text that must not become markup, in every place text goes.
        row(
            10,
            name="<script>alert('x')</script> & \"Ops\"",
            admin_name="O'Brien <b>",
            deputy_name='"Dee" & co',
            latest=Tally(on_time=1, overdue=1),
            open_prompt_flags=1,
        ),
    ]


def test_every_kind_of_row_is_the_same_as_the_template_made_it():
    rows = every_kind_of_row()
    mine = group_rows(rows, range_qs=RANGE_QS, obligations_url=OBLIGATIONS)
    theirs = DJANGO_ROWS.render(Context({"rows": rows, "range_qs": RANGE_QS, "obligations_url": OBLIGATIONS}))
    assert same_html(mine) == same_html(theirs)
    assert mine.count("<tr>") == len(rows)


def test_text_is_escaped_wherever_it_goes():
    html = group_rows(every_kind_of_row()[-1:], range_qs=RANGE_QS, obligations_url=OBLIGATIONS)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;Ops&quot;" in html
    assert "O&#x27;Brien &lt;b&gt;" in html and "Deputy: &quot;Dee&quot; &amp; co" in html
    assert 'href="/dashboard/groups/10/?from=2026-06-01&amp;to=2026-11-30"' in html


@pytest.mark.parametrize(
    ("when", "shown"),
    [
        (utc(2026, 7, 3, 16, 5), "Fri 3 Jul, 17:05"),
        (utc(2026, 11, 27, 17, 0), "Fri 27 Nov, 17:00"),
        (utc(2026, 3, 2, 8, 5), "Mon 2 Mar, 08:05"),
    ],
)
def test_the_last_prompt_is_in_uk_time(when, shown):
    html = group_rows([row(last_prompt_at=when)], range_qs=RANGE_QS, obligations_url=OBLIGATIONS)
    assert f'<td class="text-nowrap">{shown}</td>' in html


def test_no_rows_no_html():
    assert group_rows([], range_qs=RANGE_QS, obligations_url=OBLIGATIONS) == ""


def test_every_kind_of_week_is_the_same_as_the_template_made_it():
    weeks = [
        Week(monday=dt.date(2026, 10, 19)),  # nothing owed: dashes, no per cent
        Week(monday=dt.date(2026, 10, 26), tally=Tally(on_time=1, late=1, overdue=1, excused=2, held=1, left=1)),
        Week(monday=dt.date(2026, 11, 2), tally=Tally(on_time=2)),  # 100.0 %
        Week(monday=dt.date(2026, 11, 9), tally=Tally(on_time=1, late=2, outstanding=3, overdue=1234)),
    ]
    context = {"weeks": weeks, "range_qs": RANGE_QS, "obligations_url": OBLIGATIONS}
    mine = week_rows(weeks, range_qs=RANGE_QS, obligations_url=OBLIGATIONS)
    assert same_html(mine) == same_html(DJANGO_WEEKS.render(Context(context)))
    assert "Mon 26 Oct 2026" in mine and ">33.3%</a>" in mine and ">100.0%</a>" in mine and "(1234)" in mine
    link = "/dashboard/obligations/?from=2026-06-01&amp;to=2026-11-30&amp;week=2026-11-09&amp;bucket=held"
    assert f'href="{link}"' in mine
