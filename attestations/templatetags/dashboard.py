"""Template tags of the dashboard: parts repeated on every row, built in Python for speed."""

from django import template
from django.template.defaultfilters import floatformat, pluralize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def cycle_strip(cells):
    """Recent cycles, oldest first. Colour is a hint; each cell carries its figure as text."""
    if not cells:
        return mark_safe('<span class="text-body-secondary">No cycles yet</span>')  # noqa: S308 - a constant
    items = format_html_join(
        "",
        '<li class="strip-cell strip-{}" title="{}"><span aria-hidden="true">{}</span>'
        '<span class="visually-hidden">{}</span></li>',
        ((cell.level, cell.text, _short(cell), cell.text) for cell in cells),
    )
    n = len(cells)
    return format_html(
        '<ol class="cycle-strip" aria-label="Last {} cycle{}, oldest first">{}</ol>', n, pluralize(n), items
    )


def _short(cell) -> str:
    if cell.held:
        return "H"
    pct = cell.tally.pct_done
    return "–" if pct is None else floatformat(pct, 0)


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
