"""Template tags of the dashboard: parts repeated on every row, built in Python for speed.

Their text is escaped by `escape` here: the standard library's `html.escape`, as Django's
own `escape` does, without Django's check of every argument for lazy text, which was a
quarter of the time of the dashboard's rows (thousands of values a page)."""

import html
from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


def escape(text) -> str:
    """The text with &, <, >, " and ' escaped, as Django's `escape` (and autoescaping) do."""
    return html.escape(str(text))


# One cell of a strip; every value is escaped before it goes in.
_STRIP_CELL = (
    '<li class="strip-cell strip-{level}" title="{text}"><span aria-hidden="true">{short}</span>'
    '<span class="visually-hidden">{text}</span></li>'
)


@register.simple_tag
def cycle_strip(cells):
    """Recent cycles, oldest first. Colour is a hint; each cell carries its figure as text.

    Fifty rows of eight cells on the dashboard's first screen: each cell's text is worked
    out once and the cells joined as plain strings (each value escaped), not by
    `format_html_join`, which costs a SafeString and a format per value."""
    if not cells:
        return mark_safe('<span class="text-body-secondary">No cycles yet</span>')  # noqa: S308 - a constant
    items = []
    for cell in cells:
        text = escape(cell.text)
        items.append(_STRIP_CELL.format(level=escape(cell.level), text=text, short=escape(_short(cell))))
    n = len(cells)
    return mark_safe(  # noqa: S308 - a number and values escaped above
        f'<ol class="cycle-strip" aria-label="Last {n} cycle{pluralize(n)}, oldest first">{"".join(items)}</ol>'
    )


# One row of the dashboard's table of groups; every value is escaped before it goes in.
_GROUP_ROW = (
    "<tr>\n"
    '<th scope="row" class="group-name"><a href="{url}?{qs}">{name}</a>{attention}</th>\n'
    '<td><span class="badge status-badge status-{status}">{status_text}</span>{still_owed}{held}</td>\n'
    "<td>{admin}{deputy}</td>\n"
    '<td class="text-end">{members}</td>\n'
    '<td class="text-nowrap">{prompt}</td>\n'
    '<td class="text-nowrap">{done}</td>\n'
    "<td>{strip}</td>\n"
    '<td class="text-end">{flags}</td>\n'
    "</tr>\n"
)
_ATTENTION = '<div><span class="badge status-badge status-overdue">Needs attention</span></div>'
_STILL_OWED = '<div class="small">Clear-downs still owed</div>'
_HELD = ' <span class="badge status-badge status-held">On hold</span>'
_NEVER = '<span class="text-body-secondary">Never</span>'
_NOTHING_OWED = '<span class="text-body-secondary">Nothing owed</span>'


@register.simple_tag
def group_rows(rows, *, range_qs: str, obligations_url: str):
    """The rows of the dashboard's table of groups (`stats.GroupRow`, `url` and `strip` set).

    Fifty rows of eight cells, each with links and figures, on the dashboard's first
    screen: built as plain strings here (each value escaped, numbers as `{% localize off %}`
    writes them, dates as the `date` filter does in UK time) rather than by the template
    engine, which looks up and filters every value one by one."""
    qs = escape(range_qs)
    obligations = escape(obligations_url)
    out = []
    for r in rows:
        t = r.latest
        url = escape(r.url)
        stopped = r.stopped_since
        if t.pct_done is None:
            done = _NOTHING_OWED
        else:
            latest = f"{obligations}?{qs}&amp;latest=1&amp;group={r.pk}"
            done = f'<a href="{latest}">{_whole(t.pct_done)}%</a> <span class="small">({t.done}/{t.owed})</span>'
            if t.overdue:
                done += (
                    f'<div class="small"><a class="text-danger-emphasis" href="{latest}&amp;bucket=overdue">'
                    f"{t.overdue} overdue</a></div>"
                )
        out.append(
            _GROUP_ROW.format(
                url=url,
                qs=qs,
                name=escape(r.name),
                attention=_ATTENTION if r.needs_attention else "",
                status=escape(r.status),
                status_text=escape(stopped or r.status_label),
                still_owed=_STILL_OWED if stopped and not r.on_hold else "",
                held=_HELD if r.on_hold else "",
                admin=escape(r.admin_name),
                deputy=(
                    f'<div class="small text-body-secondary">Deputy: {escape(r.deputy_name)}</div>'
                    if r.deputy_name
                    else ""
                ),
                members=r.members,
                prompt=_prompt_time(r.last_prompt_at) if r.last_prompt_at else _NEVER,
                done=done,
                strip=cycle_strip(r.strip),
                flags=f'<a href="{url}?{qs}#flags-heading">{r.open_flags}</a>' if r.open_flags else "0",
            )
        )
    return mark_safe("".join(out))  # noqa: S308 - built from escaped values above


# One week of the table of weekly figures; the week's link and date are escaped before they go in.
_WEEK_ROW = (
    "<tr>\n"
    '<th scope="row"><a href="{link}">{monday}</a></th>\n'
    '<td class="text-end">{owed}</td>\n'
    '<td class="text-end"><a href="{link}&amp;bucket=on_time">{pct_on_time}</a>'
    ' <span class="text-body-secondary small">({on_time})</span></td>\n'
    '<td class="text-end"><a href="{link}&amp;bucket=late">{pct_late}</a>'
    ' <span class="text-body-secondary small">({late})</span></td>\n'
    '<td class="text-end"><a href="{link}&amp;bucket=overdue">{pct_overdue}</a>'
    ' <span class="text-body-secondary small">({overdue})</span></td>\n'
    '<td class="text-end"><a href="{link}&amp;bucket=outstanding">{outstanding}</a></td>\n'
    '<td class="text-end"><a href="{link}&amp;bucket=excused">{excused}</a></td>\n'
    '<td class="text-end"><a href="{link}&amp;bucket=held">{held}</a></td>\n'
    "</tr>\n"
)


@register.simple_tag
def week_rows(weeks, *, range_qs: str, obligations_url: str):
    """The rows of the dashboard's weekly figures (`stats.Week`), each linking to its
    clear-downs: built as plain strings, as `group_rows` is, for the same reason."""
    out = []
    for week in weeks:
        t = week.tally
        out.append(
            _WEEK_ROW.format(
                link=escape(f"{obligations_url}?{range_qs}&week={week.iso}"),
                monday=week.monday.strftime("%a %-d %b %Y"),  # the `date` filter's "D j M Y"
                owed=t.owed,
                pct_on_time=_pct(t.pct_on_time),
                on_time=t.on_time,
                pct_late=_pct(t.pct_late),
                late=t.late,
                pct_overdue=_pct(t.pct_overdue),
                overdue=t.overdue,
                outstanding=t.outstanding,
                excused=t.excused,
                held=t.held,
            )
        )
    return mark_safe("".join(out))  # noqa: S308 - built from escaped values and numbers above


def _prompt_time(when) -> str:
    """As the `date` filter writes "D j M, H:i" in UK English and time ("Fri 27 Nov, 08:05"),
    without its look-up of the language's names for each letter of the format (the portal
    is in English: `LANGUAGE_CODE` en-gb)."""
    return timezone.localtime(when).strftime("%a %-d %b, %H:%M")


def _pct(value) -> str:
    return "–" if value is None else f"{value}%"


def _short(cell) -> str:
    """The cell's figure: H (held), – (nothing owed) or the share done as a whole per cent."""
    if cell.held:
        return "H"
    pct = cell.tally.pct_done
    return "–" if pct is None else _whole(pct)


def _whole(pct: float) -> str:
    """A share (to one decimal) as a whole per cent, rounded half up as `floatformat:"0"`
    rounds it (66.5 -> 67)."""
    return str(Decimal(str(pct)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


SHORT_WORDS = {
    "on_time": "Done",
    "late": "Late",
    "overdue": "Overdue",
    "outstanding": "Due",
    "excused": "Excused",
    "held": "Held",
    "left": "Left",
}


@register.simple_tag
def record_cells(buckets):
    """A member's row of recent cycles: a short word in each cell, not only a colour."""
    return format_html_join(
        "",
        '<td class="text-center small">{}</td>',
        ((_record_cell(bucket),) for bucket in buckets),
    )


def _record_cell(bucket):
    if not bucket:
        return mark_safe(  # noqa: S308 - a constant
            '<span class="text-body-secondary" title="Nothing owed">–'
            '<span class="visually-hidden">Nothing owed</span></span>'
        )
    return format_html('<span class="cell-mark bucket-{}">{}</span>', bucket, SHORT_WORDS[bucket])
