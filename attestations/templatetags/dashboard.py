"""Template tags of the dashboard: parts repeated on every row, built in Python for speed."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.template.defaultfilters import pluralize
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


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
    return format_html(
        '<ol class="cycle-strip" aria-label="Last {} cycle{}, oldest first">{}</ol>',
        n,
        pluralize(n),
        mark_safe("".join(items)),  # noqa: S308 - built from escaped values above
    )


def _short(cell) -> str:
    """The cell's figure: H (held), – (nothing owed) or the share done, a whole per cent
    rounded half up as `floatformat` would (66.5 -> 67)."""
    if cell.held:
        return "H"
    pct = cell.tally.pct_done
    return "–" if pct is None else str(Decimal(str(pct)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


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
