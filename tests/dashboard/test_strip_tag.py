"""The dashboard's strip of recent cycles, built as plain strings for speed, says the same
as Django's own escaping and number formatting would."""

from dataclasses import dataclass, field

import pytest
from django.template.defaultfilters import floatformat, pluralize
from django.utils.html import format_html, format_html_join

from attestations.templatetags.dashboard import cycle_strip


@dataclass(frozen=True)
class Tally:
    pct_done: float | None


@dataclass
class Cell:
    level: str
    text: str
    held: bool = False
    tally: Tally = field(default_factory=lambda: Tally(None))


def django_strip(cells) -> str:
    """The strip as `format_html_join` and `floatformat` make it: the yardstick."""

    def short(cell):
        if cell.held:
            return "H"
        return "–" if cell.tally.pct_done is None else floatformat(cell.tally.pct_done, 0)

    items = format_html_join(
        "",
        '<li class="strip-cell strip-{}" title="{}"><span aria-hidden="true">{}</span>'
        '<span class="visually-hidden">{}</span></li>',
        ((c.level, c.text, short(c), c.text) for c in cells),
    )
    return format_html(
        '<ol class="cycle-strip" aria-label="Last {} cycle{}, oldest first">{}</ol>',
        len(cells),
        pluralize(len(cells)),
        items,
    )


@pytest.mark.parametrize("pct", [0.0, 0.5, 12.5, 33.3, 66.5, 66.6, 99.4, 99.5, 100.0])
def test_a_cell_s_figure_is_rounded_half_up_as_floatformat_rounds_it(pct):
    cells = [Cell(level="fair", text=f"Week to 13 Nov: {pct}", tally=Tally(pct))]
    assert cycle_strip(cells) == django_strip(cells)


def test_a_strip_of_every_kind_of_cell_is_the_same_as_django_makes_it():
    cells = [
        Cell(level="held", text="Week to 6 Nov: on hold", held=True),
        Cell(level="none", text="Week to 13 Nov: nothing owed"),
        Cell(level="poor", text="Week to 20 Nov: 1 of 3 done, 2 overdue", tally=Tally(33.3)),
    ]
    assert cycle_strip(cells) == django_strip(cells)
    assert cycle_strip(cells[:1]) == django_strip(cells[:1])  # "cycle", not "cycles"


def test_every_value_in_a_cell_is_escaped():
    cells = [Cell(level='x" onmouseover="alert(1)', text="<script>alert('Week')</script> & co")]
    html = cycle_strip(cells)
    assert html == django_strip(cells)
    assert "<script>" not in html and 'x" onmouseover' not in html
    assert "&lt;script&gt;alert(&#x27;Week&#x27;)&lt;/script&gt; &amp; co" in html


def test_no_cycles_says_so():
    assert "No cycles yet" in cycle_strip([])
