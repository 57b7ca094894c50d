"""The DPO's weekly summary: compliance of the last seven days and the seven before."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q

from opcc_portal.lib.text import percent

from ..models import Hold, Obligation

Status = Obligation.Status


@dataclass
class GroupCompliance:
    group_id: int
    name: str
    owed: int
    done: int
    owed_before: int
    done_before: int

    @property
    def percent(self) -> int | None:
        return percent(self.done, self.owed)

    @property
    def percent_before(self) -> int | None:
        return percent(self.done_before, self.owed_before)


@dataclass
class Summary:
    week_start: dt.datetime
    week_end: dt.datetime
    groups: list[GroupCompliance]
    holds: list[Hold]
    threshold: int

    @property
    def percent(self) -> int | None:
        return percent(sum(g.done for g in self.groups), sum(g.owed for g in self.groups))

    @property
    def percent_before(self) -> int | None:
        return percent(sum(g.done_before for g in self.groups), sum(g.owed_before for g in self.groups))

    @property
    def below(self) -> list[GroupCompliance]:
        return [g for g in self.groups if g.percent is not None and g.percent < self.threshold]


def compliance_summary(*, now: dt.datetime) -> Summary:
    """Compliance of the deadlines in the seven days before `now`, and the seven before that.

    Owed means due (not excused, held or left); done means attested, on time or late. Two queries.
    """
    week = dt.timedelta(days=7)
    this_week = Q(due_at__gte=now - week, due_at__lt=now)
    last_week = Q(due_at__gte=now - 2 * week, due_at__lt=now - week)
    done = Q(status__in=Obligation.DONE)
    rows = (
        Obligation.objects.filter(due_at__gte=now - 2 * week, due_at__lt=now)
        .exclude(status__in=[Status.EXCUSED, Status.HELD, Status.LEFT])
        .values("cycle__group_id", "cycle__group__name")
        .annotate(
            owed=Count("pk", filter=this_week),
            done=Count("pk", filter=this_week & done),
            owed_before=Count("pk", filter=last_week),
            done_before=Count("pk", filter=last_week & done),
        )
        .order_by("cycle__group__name")
    )
    groups = [
        GroupCompliance(
            group_id=r["cycle__group_id"],
            name=r["cycle__group__name"],
            owed=r["owed"],
            done=r["done"],
            owed_before=r["owed_before"],
            done_before=r["done_before"],
        )
        for r in rows
    ]
    holds = list(Hold.objects.standing().select_related("group").order_by("placed_at"))
    return Summary(
        week_start=now - week, week_end=now, groups=groups, holds=holds, threshold=settings.SUMMARY_THRESHOLD_PERCENT
    )
