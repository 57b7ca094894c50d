"""Reads of the clear-down records, set-based: a constant number of queries however many rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Sum, Value, When
from django.urls import reverse
from django.utils import timezone

from groups.models import ChatGroup, Membership
from groups.permissions import DPO_ROLE
from opcc_portal.lib import keyset

from . import periods
from .models import BeatTick, Cycle, Flag, Heartbeat, Hold, Obligation, SentEmail, SentEmailCount
from .stopped import stopped_note

Status = Obligation.Status


def member_open_obligations(*, user: AbstractBaseUser, now: dt.datetime | None = None) -> QuerySet[Obligation]:
    """A person's clear-downs still to do, overdue ones first, then by deadline.

    None of a group under a hold: its banner says not to clear the chat (R9).
    """
    now = now or timezone.now()
    group_held = Hold.objects.standing_on("cycle__group")
    return (
        Obligation.objects.filter(user=user, status=Status.PENDING)
        .filter(~group_held)
        .select_related("cycle__group")
        .annotate(overdue=Case(When(due_at__lt=now, then=Value(1)), default=Value(0), output_field=IntegerField()))
        .order_by("-overdue", "due_at", "cycle__group__name", "pk")
    )


def member_past_obligations(*, user: AbstractBaseUser, limit: int = 20) -> QuerySet[Obligation]:
    """A person's attestations and other settled clear-downs, newest period first."""
    return (
        Obligation.objects.filter(user=user)
        .exclude(status=Status.PENDING)
        .select_related("cycle__group")
        .order_by("-cycle__period_end", "cycle__group__name", "pk")[:limit]
    )


def member_active_holds(*, user: AbstractBaseUser) -> QuerySet[Hold]:
    """Holds standing on groups the person is in now: they must NOT clear those chats."""
    groups = Membership.objects.active().filter(user=user).values("group_id")
    return Hold.objects.standing().filter(group_id__in=groups).select_related("group")


def group_active_hold(*, group: ChatGroup) -> Hold | None:
    return Hold.objects.standing().filter(group=group).select_related("placed_by").first()


@dataclass
class CyclePanel:
    """What the group page shows about a group's latest cycle."""

    cycle: Cycle | None
    hold: Hold | None
    counts: dict[str, int] = field(default_factory=dict)
    obligations: list[Obligation] = field(default_factory=list)
    mine: Obligation | None = None
    next_end: dt.datetime | None = None
    # Clear-downs of earlier cycles still outstanding (for those who run the group), newest
    # cycle first, at most OLDER_LIMIT; `older_more` when there are more than that.
    older: list[Obligation] = field(default_factory=list)
    older_more: bool = False

    @property
    def held_then(self) -> bool:
        """The latest cycle was held by a hold since lifted: nothing is owed for it."""
        return self.cycle is not None and self.cycle.is_held and self.hold is None

    @property
    def n_done(self) -> int:
        return self.counts.get(Status.ATTESTED, 0) + self.counts.get(Status.LATE, 0)

    @property
    def n_late(self) -> int:
        return self.counts.get(Status.LATE, 0)

    @property
    def n_outstanding(self) -> int:
        return self.counts.get(Status.PENDING, 0)

    @property
    def n_excused(self) -> int:
        return self.counts.get(Status.EXCUSED, 0)

    @property
    def n_held(self) -> int:
        return self.counts.get(Status.HELD, 0)

    @property
    def attested(self) -> list[Obligation]:
        return [o for o in self.obligations if o.status in Obligation.DONE]

    @property
    def outstanding(self) -> list[Obligation]:
        return [o for o in self.obligations if o.status == Status.PENDING]

    @property
    def excused(self) -> list[Obligation]:
        return [o for o in self.obligations if o.status == Status.EXCUSED]

    @property
    def held(self) -> list[Obligation]:
        return [o for o in self.obligations if o.status == Status.HELD]


OLDER_LIMIT = 50


def group_cycle_panel(*, group: ChatGroup, user: AbstractBaseUser, with_people: bool) -> CyclePanel:
    """The group's latest cycle, its counts and (for those who run the group) who is where,
    with the clear-downs of earlier cycles still outstanding, so they can be chased or excused.

    Four queries whatever the size of the group and its past: the cycle, the hold, the
    obligations and the earlier outstanding ones.
    """
    cycle = Cycle.objects.filter(group=group).select_related("prompted_by", "hold").order_by("-period_end").first()
    panel = CyclePanel(cycle=cycle, hold=group_active_hold(group=group))
    if group.status == ChatGroup.Status.APPROVED:
        panel.next_end = periods.next_period_end(weekday=group.cycle_weekday, at=group.cycle_time, now=timezone.now())
    if cycle is None:
        return panel
    if with_people:
        panel.obligations = list(
            cycle.obligations.select_related("user", "excused_by").order_by(
                "user__first_name", "user__last_name", "user__username"
            )
        )
        panel.counts = {s: 0 for s in Status.values}
        for obligation in panel.obligations:
            panel.counts[obligation.status] += 1
            if obligation.user_id == user.pk:
                panel.mine = obligation
        older = list(group_older_outstanding(group=group, before=cycle)[: OLDER_LIMIT + 1])
        panel.older, panel.older_more = older[:OLDER_LIMIT], len(older) > OLDER_LIMIT
    else:
        panel.counts = dict(cycle.obligations.values_list("status").annotate(n=Count("pk")).order_by())
        panel.mine = cycle.obligations.filter(user=user).first()
    return panel


def group_older_outstanding(*, group: ChatGroup, before: Cycle) -> QuerySet[Obligation]:
    """A group's clear-downs still outstanding from cycles that ended before `before` ended:
    newest cycle first, then by name. One query (slice it to bound the page)."""
    return (
        Obligation.objects.filter(cycle__group=group, cycle__period_end__lt=before.period_end, status=Status.PENDING)
        .select_related("cycle", "user")
        .order_by("-cycle__period_end", "user__first_name", "user__last_name", "user__username", "pk")
    )


def cycle_prompt_text(*, cycle: Cycle) -> str:
    """The ready-made message the admin pastes into the WhatsApp group (R5).

    Plain text that reads well in WhatsApp; no names, so nobody is singled out in the chat.
    """
    start = cycle.period_start.astimezone(periods.LONDON)
    end = cycle.period_end.astimezone(periods.LONDON)
    due = cycle.due_at.astimezone(periods.LONDON)
    home = f"{settings.SITE_URL}{reverse('home')}"
    howto = f"{settings.SITE_URL}{reverse('attestations:howto')}"
    note = stopped_note(cycle.group)
    return (
        f"Weekly clear-down of “{cycle.group.name}”: {start:%a %-d %b} to {end:%a %-d %b}.\n"
        + (f"{note}\n" if note else "")
        + "1. Save anything the office needs to keep to a corporate system.\n"
        "2. iPhone: tap the group name > Clear Chat > Delete All Messages.\n"
        "   Android: tap ⋮ (top right) > More > Clear chat.\n"
        f"3. Confirm by {due:%a %-d %b, %H:%M} at {home}\n"
        f"How to: {howto}"
    )


def group_sent_emails(
    *, group: ChatGroup, cycle: Cycle | None = None, since: dt.datetime | None = None, limit: int | None = 50
) -> QuerySet[SentEmail]:
    """The emails sent (or tried) about a group, newest first: prompts, reminders and
    digests addressed about it, and DPO escalations that reported one of its flags.

    One query; `cycle` narrows to one cycle, `since` to a date range. The two ways an email
    is about a group are a UNION of two indexed reads (emails by group or cycle, flags by
    group or cycle), never an OR across the join, which no index can serve.
    """
    about = _emails_about(cycle_id=cycle.pk) if cycle is not None else _emails_about(group_id=group.pk)
    emails = SentEmail.objects.filter(about)
    if since is not None:
        emails = emails.filter(created_at__gte=since)
    emails = emails.select_related("user").order_by("-created_at", "-pk")
    return emails[:limit] if limit else emails


def _emails_about(*, group_id: int | None = None, cycle_id: int | None = None) -> Q:
    """The emails about a group (or one cycle), as its drill-down counts them: those addressed
    about it and the DPO escalations that reported one of its flags. The ids of both, a UNION
    ALL in a subquery, so that an escalation reporting several of the group's flags is still
    one row and each side reads its own index."""
    if cycle_id is not None:
        direct = SentEmail.objects.filter(cycle_id=cycle_id)
        reported = SentEmail.flags.through.objects.filter(flag__cycle_id=cycle_id)
    else:
        direct = SentEmail.objects.filter(group_id=group_id)
        reported = SentEmail.flags.through.objects.filter(flag__group_id=group_id)
    ids = direct.order_by().values("pk").union(reported.order_by().values("sentemail_id"), all=True)
    return Q(pk__in=ids)


def _sent_emails(*, status: str = "", kind: str = "", group_id: int | None = None) -> QuerySet[SentEmail]:
    emails = SentEmail.objects.all()
    if status:
        emails = emails.filter(status=status)
    if kind:
        emails = emails.filter(kind=kind)
    if group_id is not None:
        emails = emails.filter(_emails_about(group_id=group_id))
    return emails


def sent_email_rows(*, status: str = "", kind: str = "", group_id: int | None = None) -> QuerySet[SentEmail]:
    """Every email the portal recorded, newest first, optionally of one status, kind or group.

    One query for the rows of a page (recipient and group joined), whatever their number.
    """
    return (
        _sent_emails(status=status, kind=kind, group_id=group_id)
        .select_related("user", "group")
        .order_by("-created_at", "-pk")
    )


def sent_email_page(
    *,
    status: str = "",
    kind: str = "",
    group_id: int | None = None,
    cursor: keyset.Cursor | None = None,
    older: bool = True,
    size: int = 50,
) -> keyset.KeysetPage:
    """A page of `sent_email_rows`: the `size` emails after `cursor` (older) or before it
    (newer), the newest when there is no cursor. One query, served by an index on
    (created_at, id) (or one of status or kind first) however deep the page."""
    emails = sent_email_rows(status=status, kind=kind, group_id=group_id)
    if cursor is not None:
        emails = emails.filter(keyset.seek(cursor=cursor, older=older, when="created_at", pk="pk"))
    if not older:
        emails = emails.order_by("created_at", "pk")
    rows = list(emails[: size + 1])
    return keyset.page_of(
        rows, size=size, older=older, asked=cursor is not None, key=lambda e: keyset.Cursor(when=e.created_at, pk=e.pk)
    )


def sent_email_status_counts(*, kind: str = "", group_id: int | None = None) -> dict[str, int]:
    """How many emails of each status (of one kind or group, if given). One query.

    Without a group, read from `SentEmailCount` (a few dozen rows kept by triggers, exact)
    instead of counting every email. A group's emails are few, and found by index (its
    emails and the escalations that reported its flags): they are counted.
    """
    if group_id is None:
        counts = SentEmailCount.objects.filter(kind=kind) if kind else SentEmailCount.objects.all()
        stored = dict(counts.values("status").annotate(total=Sum("n")).order_by().values_list("status", "total"))
        return {s: stored.get(s, 0) for s in SentEmail.Status.values}
    emails = _sent_emails(kind=kind, group_id=group_id)
    return emails.aggregate(**{s: Count("pk", filter=Q(status=s)) for s in SentEmail.Status.values})


def sent_emails_failed_since(*, since: dt.datetime) -> int:
    """Emails that failed for good since `since`, judged by their last attempt (or, for a
    row that has none, by when it was made). One query, read from a partial index of the
    failed emails alone (`sentemail_failed_idx`), a small share of every email."""
    when = Q(attempted_at__gte=since) | Q(attempted_at__isnull=True, created_at__gte=since)
    return SentEmail.objects.filter(when, status=SentEmail.Status.FAILED).count()


@dataclass
class CannotBeEmailed:
    """People the portal should email and cannot (no address), the first `limit` of them."""

    people: list = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return self.total - len(self.people)


def people_who_cannot_be_emailed(*, limit: int = 20) -> CannotBeEmailed:
    """Active accounts with no email address that the schedule should write to: DPOs
    (escalations, the weekly summary), admins and deputies of groups still chased (digests)
    and their members (prompts, reminders). Each carries `is_dpo`, `runs_group` and
    `is_member`. One query when every active account has an address, as is usual (a probe,
    not the query of everyone's roles, which costs more to build than to run); three at
    most, however many people there are."""
    chased = [ChatGroup.Status.APPROVED, ChatGroup.Status.SUSPENDED]
    User = get_user_model()
    no_address = User.objects.filter(is_active=True, email="")
    if not no_address.exists():
        return CannotBeEmailed()
    people = (
        no_address.annotate(
            is_dpo=Exists(User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=DPO_ROLE)),
            runs_group=Exists(
                ChatGroup.objects.filter(Q(admin=OuterRef("pk")) | Q(deputy=OuterRef("pk")), status__in=chased)
            ),
            is_member=Exists(Membership.objects.active().filter(user=OuterRef("pk"), group__status__in=chased)),
        )
        .filter(Q(is_dpo=True) | Q(runs_group=True) | Q(is_member=True))
        .order_by("last_name", "first_name", "username")
    )
    first = list(people[: limit + 1])
    total = len(first) if len(first) <= limit else people.count()
    return CannotBeEmailed(people=first[:limit], total=total)


def open_duty_flags() -> QuerySet[Flag]:
    """The open flags that are not a week's clear-down: an overdue review (R16) and a timer not
    turned off under a hold (R17), the latter first, then oldest first. One query."""
    return (
        Flag.objects.filter(resolved_at__isnull=True, kind__in=(Flag.Kind.TIMER_NOT_OFF, Flag.Kind.REVIEW_OVERDUE))
        .select_related("group", "user", "hold")
        .order_by("-kind", "raised_at", "pk")
    )


def heartbeats() -> dict[str, dt.datetime]:
    """When each background process (`worker`, `sweep`) was last seen. One query."""
    return dict(Heartbeat.objects.values_list("name", "seen_at"))


@dataclass(frozen=True)
class Operations:
    """What an operator's metrics scraper reads (opcc_portal/metrics.py)."""

    emails: dict[str, int]  # status -> count (pending, failed, …)
    open_flags: dict[str, int]  # kind -> count
    last_seen: dict[str, dt.datetime]  # heartbeats: worker, sweep
    last_sweep_slot: dt.datetime | None  # the beat tick of the last sweep that ran
    last_sweep_started: dt.datetime | None


def operations() -> Operations:
    """Counts for monitoring, in four queries whatever the size of the data (indexed counts)."""
    emails = dict(SentEmail.objects.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    open_flags = dict(
        Flag.objects.filter(resolved_at__isnull=True)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    tick = BeatTick.objects.filter(task="sweep").order_by("-slot").values_list("slot", "ran_at").first()
    return Operations(
        emails=emails,
        open_flags=open_flags,
        last_seen=heartbeats(),
        last_sweep_slot=tick[0] if tick else None,
        last_sweep_started=tick[1] if tick else None,
    )
