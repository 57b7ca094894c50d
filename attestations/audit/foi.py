"""FOI: "what may still exist" of a group's chat for a range of UK days, per member.

When a request arrives for a group and dates, the question is whose phone may still hold
messages of those days. Clear Chat deletes everything in the chat up to the moment it is
done, so an attestation's `cleared_on` day D means: every message before day D is gone from
that person's phone. The portal knows the day, not the hour, so a clear on day D vouches
only for the days before D (messages later on day D may remain). Hence, for the range
[start, end]:

- a clear on a day after `end` covers the whole range (the first such clear is when);
- a clear on a day after `start` and up to `end` covers part of it (the latest such clear);
- otherwise every message of the range may still be on the phone.

Who is asked: everyone who was a member at some moment from the range's first day until
now. Someone who joined after the range never had its messages (WhatsApp does not show a
new member earlier messages). Someone who left the group, or the office, keeps the chat on
their phone unless they cleared it: a hold's notice does not reach them, so the DPO is
told to contact them directly.

A fixed number of queries, whatever the size of the group (`what_may_exist`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from groups.models import ChatGroup, Membership
from opcc_portal.lib.text import display_name

from .. import periods
from ..models import Cycle, Hold, HoldNotice, Obligation
from .history import Filters

S = Obligation.Status
DONE = (S.ATTESTED, S.LATE)

# The table's groups, in the order the page shows them: those the hold must reach first.
NOT_CLEARED = "not_cleared"
EXCUSED = "excused"
LEFT = "left"
CLEARED = "cleared"
JOINED_AFTER = "joined_after"
STANDINGS = {
    NOT_CLEARED: "Not yet cleared: the hold must reach them now",
    EXCUSED: "Excused, not cleared since: the hold must reach them now",
    LEFT: "Left, not cleared: contact them directly",
    CLEARED: "Cleared: nothing of these dates left",
    JOINED_AFTER: "Joined after these dates: never had them",
}
ORDER = list(STANDINGS)
# A week's status as the table says it (the model's labels are for the member's own pages).
WEEK_WORDS = {
    S.PENDING: "owed",
    S.ATTESTED: "done",
    S.LATE: "done late",
    S.EXCUSED: "excused",
    S.HELD: "on hold",
    S.LEFT: "closed (left the office)",
}


@dataclass(frozen=True)
class RequestFilters(Filters):
    """The range and group, and the request being answered (kept in the export log)."""

    reference: str = ""
    received_on: dt.date | None = None
    received_by: str = ""

    def as_dict(self) -> dict:
        return {
            **super().as_dict(),
            "reference": self.reference,
            "received": self.received_on.isoformat() if self.received_on else None,
            "received_by": self.received_by,
        }


@dataclass
class MemberLine:
    user: object
    joined_at: dt.datetime
    left_at: dt.datetime | None
    in_range: bool
    covering_clear: dt.date | None = None  # first clear after the range: all of it gone
    partial_clear: dt.date | None = None  # latest clear inside the range: part of it gone
    weeks: dict[str, int] = field(default_factory=dict)  # statuses of the range's weeks
    next_due: dt.datetime | None = None  # deadline of a week of the range still owed
    notice: HoldNotice | None = None  # of the standing hold
    remains: str = ""  # what may remain, in words (set once the whole answer is known)
    reaches: str = ""  # whether a hold reaches them, in words

    @property
    def name(self) -> str:
        return display_name(self.user)

    @property
    def account_closed(self) -> bool:
        return not self.user.is_active

    @property
    def gone(self) -> bool:
        """Left the group, or the office: a hold's notice does not reach them."""
        return self.left_at is not None or self.account_closed

    @property
    def standing(self) -> str:
        if not self.in_range:
            return JOINED_AFTER
        if self.covering_clear:
            return CLEARED
        if self.gone:
            return LEFT
        if self.weeks.get(S.EXCUSED):
            return EXCUSED
        return NOT_CLEARED

    @property
    def standing_label(self) -> str:
        return STANDINGS[self.standing]

    def may_remain(self, answer: WhatMayExist) -> str:
        """What of the range may still be on their phone, in words."""
        if not self.in_range:
            return "Nothing: joined after these dates"
        if self.covering_clear:
            return f"Nothing: cleared the chat on {self.covering_clear:%-d %b %Y}"
        if self.partial_clear:
            return (
                f"Messages from {self.partial_clear:%-d %b %Y} to {answer.end:%-d %b %Y} "
                f"(cleared on {self.partial_clear:%-d %b %Y})"
            )
        return "All messages of these dates"

    @property
    def weeks_text(self) -> str:
        """The range's weeks for this person by status, with a deadline still to come."""
        parts = [f"{WEEK_WORDS[status]} {n}" for status, n in sorted(self.weeks.items()) if n]
        if self.next_due:
            parts.append(f"next deadline {self.next_due.astimezone(periods.LONDON):%-d %b %Y %H:%M}")
        return "; ".join(parts) or "none owed"

    @property
    def membership_text(self) -> str:
        joined = f"joined {self.joined_at.astimezone(periods.LONDON):%-d %b %Y}"
        if self.left_at:
            joined += f", left the group {self.left_at.astimezone(periods.LONDON):%-d %b %Y}"
        if self.account_closed:
            joined += ", account closed (left the office)"
        return joined

    def reach(self, answer: WhatMayExist) -> str:
        """Whether a hold's notice reaches them, or has."""
        if self.standing in (CLEARED, JOINED_AFTER):
            return "Not needed for these dates" + ("" if self.gone else " (still told of any hold, as a member)")
        if self.gone:
            return "No: not a member now; contact them directly"
        if self.notice:
            told = f"Told {self.notice.notified_at.astimezone(periods.LONDON):%-d %b %Y}"
            if self.notice.acknowledged_at:
                return f"{told}, acknowledged {self.notice.acknowledged_at.astimezone(periods.LONDON):%-d %b %Y}"
            return f"{told}, not yet acknowledged"
        if answer.hold:
            return "Yes: the next sweep sends their notice"
        return "Yes, when the hold is placed: emailed a notice at once"


@dataclass
class WhatMayExist:
    group: ChatGroup
    start: dt.date
    end: dt.date
    made_at: dt.datetime
    hold: Hold | None = None
    lines: list[MemberLine] = field(default_factory=list)
    # The group's last closed week ends before the range does: the days after it are in a
    # week that has not closed, so nobody has been asked to clear them yet.
    open_after: dt.datetime | None = None

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ORDER, 0)
        for line in self.lines:
            counts[line.standing] += 1
        return counts

    @property
    def summary(self) -> list[tuple[str, int]]:
        return [(STANDINGS[key], n) for key, n in self.counts.items()]

    @property
    def to_reach(self) -> int:
        c = self.counts
        return c[NOT_CLEARED] + c[EXCUSED]


def what_may_exist(*, group_id: int, start: dt.date, end: dt.date, now: dt.datetime | None = None) -> WhatMayExist:
    """Who may still hold messages of the group sent from `start` to `end` (UK days, both
    included). Six queries, whatever the size of the group."""
    now = now or timezone.now()
    since = periods.day_start(start)
    until = periods.day_start(end + dt.timedelta(days=1))
    day_after = end + dt.timedelta(days=1)
    group = ChatGroup.objects.get(pk=group_id)
    answer = WhatMayExist(group=group, start=start, end=end, made_at=now)
    answer.hold = Hold.objects.standing().filter(group=group).select_related("placed_by").first()

    # Everyone who was a member at some moment from the range's start until now.
    by_user: dict[int, MemberLine] = {}
    memberships = (
        Membership.objects.filter(group=group, joined_at__lt=now)
        .filter(Q(left_at__isnull=True) | Q(left_at__gt=since))
        .select_related("user")
        .order_by("joined_at", "pk")
    )
    for m in memberships:
        overlaps = m.joined_at < until
        line = by_user.get(m.user_id)
        if line is None:
            by_user[m.user_id] = MemberLine(m.user, m.joined_at, m.left_at, overlaps)
            continue
        # Someone who left and joined again: one line, from the first joining to the last leaving.
        line.in_range = line.in_range or overlaps
        line.left_at = None if line.left_at is None or m.left_at is None else max(line.left_at, m.left_at)

    ids = list(by_user)
    clears = (
        Obligation.objects.filter(cycle__group=group, user_id__in=ids, status__in=DONE)
        .values("user_id")
        .annotate(
            covering=Min("cleared_on", filter=Q(cleared_on__gte=day_after)),
            partial=Max("cleared_on", filter=Q(cleared_on__gt=start, cleared_on__lt=day_after)),
        )
    )
    for row in clears:
        line = by_user[row["user_id"]]
        line.covering_clear, line.partial_clear = row["covering"], row["partial"]

    # Each person's weeks that overlap the range, by status; the earliest deadline still to come.
    weeks = (
        Obligation.objects.filter(
            cycle__group=group, user_id__in=ids, cycle__period_start__lt=until, cycle__period_end__gt=since
        )
        .values("user_id", "status")
        .annotate(n=Count("pk"), due=Min("due_at", filter=Q(status=S.PENDING, due_at__gt=now)))
    )
    for row in weeks:
        line = by_user[row["user_id"]]
        line.weeks[row["status"]] = row["n"]
        if row["due"] and (line.next_due is None or row["due"] < line.next_due):
            line.next_due = row["due"]

    if answer.hold:
        for notice in HoldNotice.objects.filter(hold=answer.hold, user_id__in=ids):
            by_user[notice.user_id].notice = notice

    last_end = Cycle.objects.filter(group=group).aggregate(last=Max("period_end"))["last"]
    if last_end is None or last_end < min(until, now):
        answer.open_after = last_end or since

    answer.lines = sorted(
        by_user.values(), key=lambda line: (ORDER.index(line.standing), line.name.casefold(), line.user.pk)
    )
    for line in answer.lines:
        line.remains, line.reaches = line.may_remain(answer), line.reach(answer)
    return answer


HEADERS = [
    "request_reference",
    "received_on",
    "received_by",
    "group",
    "from",
    "to",
    "standing_hold",
    "member",
    "username",
    "standing",
    "what_may_remain",
    "cleared_on",
    "membership",
    "weeks_in_range",
    "hold_reaches_them",
    "made_at",
]


def rows(*, answer: WhatMayExist, request: RequestFilters) -> Iterator[list[tuple]]:
    """The answer as rows of the CSV (one batch: a group's members are few)."""
    hold = f"{answer.hold.reference} (placed {answer.hold.placed_at:%Y-%m-%d})" if answer.hold else "none"
    head = (
        request.reference,
        request.received_on,
        request.received_by,
        answer.group.name,
        answer.start,
        answer.end,
        hold,
    )
    yield [
        (
            *head,
            line.name,
            line.user.get_username(),
            line.standing_label,
            line.remains,
            line.covering_clear or line.partial_clear,
            line.membership_text,
            line.weeks_text,
            line.reaches,
            answer.made_at,
        )
        for line in answer.lines
    ]
