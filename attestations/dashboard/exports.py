"""The dashboard's downloads: the per-group table as CSV rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

from .. import periods
from .stats import STRIP_CYCLES, DateRange, Scope, filter_table, group_strips, group_table


def group_export_rows(*, scope: Scope, dates: DateRange, now: dt.datetime | None = None, **filters) -> Iterator[list]:
    """The per-group table as CSV rows (header first); strips fetched 500 groups at a time."""
    now = now or timezone.now()
    yield [
        "Group",
        "Status",
        "Admin",
        "Deputy",
        "Members",
        "On hold",
        "Last prompt (UK time)",
        "This cycle: owed",
        "This cycle: on time",
        "This cycle: late",
        "This cycle: overdue",
        "This cycle: outstanding",
        "This cycle: excused",
        "This cycle: held",
        "This cycle: left the organisation",
        "This cycle: done %",
        "Open flags",
        "Needs attention",
        f"Last {STRIP_CYCLES} cycles: done % (oldest first)",
    ]
    rows = filter_table(group_table(scope=scope, dates=dates, now=now), **filters)
    for i in range(0, len(rows), 500):
        chunk = rows[i : i + 500]
        strips = group_strips(group_ids=[r.pk for r in chunk], dates=dates, now=now)
        for r in chunk:
            t = r.latest
            yield [
                r.name,
                r.status_label,
                r.admin_name,
                r.deputy_name,
                r.members,
                "yes" if r.on_hold else "no",
                r.last_prompt_at.astimezone(periods.LONDON).strftime("%Y-%m-%d %H:%M") if r.last_prompt_at else "",
                t.owed,
                t.on_time,
                t.late,
                t.overdue,
                t.outstanding,
                t.excused,
                t.held,
                t.left,
                "" if t.pct_done is None else f"{t.pct_done:.1f}",
                r.open_flags,
                "yes" if r.needs_attention else "no",
                " ".join(
                    "held" if c.held else ("-" if c.tally.pct_done is None else f"{c.tally.pct_done:.0f}")
                    for c in strips[r.pk]
                ),
            ]
