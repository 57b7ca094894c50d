"""Writes of the clear-down records. Each service is one transaction and checks its own rules.

Services raise `ValidationError` for a rule of the policy (shown beside the form) and
`PermissionDenied` for someone who may not act. Sweeps (`cycle_close_due`, `flags_raise`)
run a constant number of queries however many groups and members there are, and are
safe to run twice or at the same time: they serialise on a lock, skip what exists, and
the unique constraints catch anything that slips past.

History (R11) is written explicitly: `save()` records it with the acting user; bulk
writes call `bulk_history_create` with the same user and a reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.utils import timezone

from groups import permissions as group_permissions
from groups.models import ChatGroup, GroupReview, Membership
from groups.validators import clean_text
from opcc_portal.lib.history import bulk_history, save_with_history
from opcc_portal.lib.locking import Lock, lock
from opcc_portal.lib.text import display_name

from . import outbox, periods
from .ledger import ledger_append
from .models import BeatTick, Cycle, Flag, Heartbeat, Hold, Obligation, SentEmail

logger = logging.getLogger(__name__)

Status = Obligation.Status

# After a change of schedule, a period shorter than this joins the next one.
_SHORTEST_PERIOD = dt.timedelta(days=1)


# --- Closing cycles (R4, R7, R9) ----------------------------------------------------------


@dataclass
class CloseResult:
    cycles: list[Cycle] = field(default_factory=list)
    obligations: int = 0

    @property
    def held(self) -> int:
        return sum(1 for cycle in self.cycles if cycle.hold_id)


@transaction.atomic
def cycle_close_due(*, now: dt.datetime | None = None) -> CloseResult:
    """Create the cycle of every group whose period has ended, and its obligations.

    One cycle per group per run: the latest period that has ended by `now`. Running it
    again creates nothing. Rules:

    - Approved groups close a period every week (R4); proposed groups take no part (R2).
    - A group's first cycle is the first full period after it was approved.
    - Periods are contiguous: a group's next period starts exactly where its last cycle
      ended and ends at the latest end on the group's current schedule. After a change
      of weekday or time it is shorter (or longer) than seven days, but no moment is in
      two periods or in none (a later time on the same day would otherwise leave the
      hour between the old and the new time out of every period). A period that would
      end less than a day after the last one (the time moved a little later) is not
      asked for: it joins the next one, rather than a clear-down of an hour or two.
    - A period the closer missed entirely (the portal down for over a week) is not
      created afterwards: Clear Chat deletes everything, so the next cycle covers it (it
      starts where the last one ended), and nobody is flagged for a deadline they were
      never told about.
    - Suspended and retired groups (R13): the chat still holds what was said, so the
      period running when the group stopped ends at that moment (`status_changed_at`):
      one shorter, final period from the last period's end, due `CLEAR_DOWN_GRACE_HOURS`
      later, owed by everyone who was a member up to that moment (retiring ends every
      membership at that same moment, so here leaving exactly at the end still owes).
      No period ends while a group is suspended or retired. A reinstated group's next
      period ends at its first usual end at least a day after the reinstatement; it starts
      where the last one ended, as always, so it also covers the suspension (when nothing
      was to be posted) and no moment is left out, even if the group was suspended and
      reinstated between two runs of the closer.
    - Under a hold the cycle is recorded with the hold and nobody owes anything (R9).
    - R7, with memberships as half-open intervals [joined_at, left_at) and periods as
      [start, end): a person owes for a period if they were a member at any moment of it
      and still a member at its end, that is `joined_at < end` and (`left_at` is empty
      or `left_at > end`). Joining exactly at the end, or leaving exactly at the end,
      owes nothing. Disabled accounts owe nothing: they cannot sign in to attest.
    """
    now = now or timezone.now()
    lock(Lock.CYCLES_CLOSE)
    active_hold = Hold.objects.standing().filter(group=OuterRef("pk")).values("pk")[:1]
    groups = list(
        ChatGroup.objects.exclude(status=ChatGroup.Status.PROPOSED)
        .annotate(last_end=Max("cycles__period_end"), hold_id=Subquery(active_hold))
        .values(
            "pk", "status", "cycle_weekday", "cycle_time", "approved_at", "status_changed_at", "last_end", "hold_id"
        )
    )
    grace, prompt_hours = settings.CLEAR_DOWN_GRACE_HOURS, settings.CLEAR_DOWN_PROMPT_HOURS
    new_cycles: list[Cycle] = []
    final_groups: set[int] = set()
    for group in groups:
        last_end, changed = group["last_end"], group["status_changed_at"]
        if group["status"] != ChatGroup.Status.APPROVED:
            start, end = _final_period(last_end=last_end, approved_at=group["approved_at"], stopped_at=changed)
            if start is None:
                continue
            final_groups.add(group["pk"])
            # A group stopped before this rule existed, or while the closer was down for
            # longer than the grace, gets the full grace from now, not a deadline already past.
            due_at = periods.add_local_hours(end, grace)
            if due_at <= now:
                due_at = periods.add_local_hours(now, grace)
        else:
            period = periods.last_ended_period(weekday=group["cycle_weekday"], at=group["cycle_time"], now=now)
            end = period.end
            if last_end is None:
                start = period.start
                if group["approved_at"] is not None and start < group["approved_at"]:
                    continue  # approved part-way through: the first full period comes next
            else:
                start = last_end
                if end - max(start, changed or start) < _SHORTEST_PERIOD:
                    # Already closed, too short after a change of schedule, or ending within
                    # a day of a reinstatement: it joins the next one.
                    continue
            due_at = periods.add_local_hours(end, grace)
        new_cycles.append(
            Cycle(
                group_id=group["pk"],
                period_start=start,
                period_end=end,
                due_at=due_at,
                prompt_due_at=min(periods.add_local_hours(end, prompt_hours), due_at),
                hold_id=group["hold_id"],
            )
        )
    result = CloseResult()
    if not new_cycles:
        return result
    # No ignore_conflicts: the lock above makes a conflict impossible between closers, and
    # if one ever happens the unique constraints raise and the whole run rolls back.
    # Without it, the database returns the new primary keys, which history needs.
    result.cycles = Cycle.objects.bulk_create(new_cycles)
    bulk_history(Cycle, result.cycles, by=None, reason="Period ended", update=False)

    owing = [cycle.pk for cycle in result.cycles if cycle.hold_id is None]
    if owing:
        result.obligations = _obligations_create(cycle_ids=owing, final_groups=final_groups)
    return result


def _obligations_create(*, cycle_ids: list[int], final_groups: set[int]) -> int:
    """The new cycles' obligations (R7), each with its history row, in two statements.

    Who owes is decided in the database: `INSERT … SELECT` from the cycles and the
    memberships, then the history rows `INSERT … SELECT` from the obligations made. A
    force-wide Friday makes some 20,000 obligations at once: built as model objects in
    Python (and their history objects) that took most of the sweep's time, growing faster
    than the data. Columns not chosen here get their model default, so a field added to
    `Obligation` (or to its history) is filled the way `bulk_create` would fill it.

    A member owes if they joined before the end and had not left by it (left after it;
    at it, for a suspended or retired group's final period, since retiring ends every
    membership at that moment), with an active account; overlapping membership rows of one
    person make one obligation.
    """
    quote = connection.ops.quote_name
    members, cycles, users = Membership._meta, Cycle._meta, get_user_model()._meta
    ids = ", ".join(["%s"] * len(cycle_ids))
    stayed = "m.left_at IS NULL OR m.left_at > c.period_end"
    final = sorted(final_groups)
    if final:
        stayed += f" OR (m.left_at = c.period_end AND c.group_id IN ({', '.join(['%s'] * len(final))}))"
    # The cycle, the member and the deadline of each obligation owed, once per person.
    owed = (
        f"SELECT DISTINCT c.id AS cycle_id, m.user_id AS user_id, c.due_at AS due_at"  # noqa: S608 - names from models
        f" FROM {quote(cycles.db_table)} c"
        f" JOIN {quote(members.db_table)} m ON m.group_id = c.group_id"
        f" JOIN {quote(users.db_table)} u ON u.id = m.user_id"
        f" WHERE c.id IN ({ids}) AND u.is_active AND m.joined_at < c.period_end AND ({stayed})"
    )
    chosen = {"cycle_id": "owed.cycle_id", "user_id": "owed.user_id", "due_at": "owed.due_at"}
    columns, values, params = [], [], []
    for model_field in Obligation._meta.concrete_fields:
        if model_field.primary_key:
            continue
        columns.append(quote(model_field.column))
        if model_field.column in chosen:
            values.append(chosen[model_field.column])
        else:
            values.append("%s")
            params.append(model_field.get_db_prep_save(model_field.get_default(), connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Obligation._meta.db_table)} ({', '.join(columns)})"  # noqa: S608 - names from models
            f" SELECT {', '.join(values)} FROM ({owed}) AS owed ORDER BY owed.cycle_id, owed.user_id",
            [*params, *cycle_ids, *final],
        )
        made = cursor.rowcount
        _history_of_new_obligations(cursor, cycle_ids=cycle_ids)
    return made


def _history_of_new_obligations(cursor, *, cycle_ids: list[int]) -> None:
    """A history row ("Period ended", by the portal) for each obligation of these new cycles,
    as `bulk_history` writes them, copied from the rows themselves in one statement."""
    quote = connection.ops.quote_name
    history = Obligation.history.model._meta
    made = {f.column for f in Obligation._meta.concrete_fields}
    written = {
        "history_date": timezone.now(),
        "history_change_reason": "Period ended",
        "history_type": "+",
        "history_user_id": None,
    }
    columns, values, params = [], [], []
    for model_field in history.concrete_fields:
        if model_field.primary_key:
            continue  # history_id, numbered by the database
        columns.append(quote(model_field.column))
        if model_field.column in written:
            values.append("%s")
            params.append(model_field.get_db_prep_save(written[model_field.column], connection))
        elif model_field.column in made:
            values.append(f"o.{quote(model_field.column)}")
        else:
            raise ImproperlyConfigured(f"No value for the history column {model_field.column}.")
    ids = ", ".join(["%s"] * len(cycle_ids))
    cursor.execute(
        f"INSERT INTO {quote(history.db_table)} ({', '.join(columns)})"  # noqa: S608 - names from models
        f" SELECT {', '.join(values)} FROM {quote(Obligation._meta.db_table)} o"
        f" WHERE o.cycle_id IN ({ids}) ORDER BY o.id",
        [*params, *cycle_ids],
    )


def _final_period(
    *, last_end: dt.datetime | None, approved_at: dt.datetime | None, stopped_at: dt.datetime | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The final period of a suspended or retired group, or (None, None) if it is closed.

    From the last period's end (or the approval, if no period ended yet) to the moment the
    group stopped: any length, since what was said up to that moment is still on phones.
    A proposal retired before it was ever approved has none.
    """
    start = last_end if last_end is not None else approved_at
    if stopped_at is None or start is None or stopped_at <= start:
        return None, None
    return start, stopped_at


# --- Attesting (R6) -------------------------------------------------------------------------


@dataclass
class AttestResult:
    recorded: list[Obligation] = field(default_factory=list)
    already_done: list[Obligation] = field(default_factory=list)

    @property
    def late(self) -> list[Obligation]:
        return [o for o in self.recorded if o.status == Status.LATE]


@transaction.atomic
def obligation_attest(
    *,
    obligations: Iterable[Obligation | int],
    user: AbstractBaseUser,
    cleared_on: dt.date,
    confirmed_cleared: bool,
    confirmed_saved: bool,
    channel: str = Obligation.Channel.WEB,
    where_saved: str = "",
    now: dt.datetime | None = None,
) -> AttestResult:
    """Record a person's attestation for one or several of their obligations at once.

    All or nothing: if any obligation is refused, nothing is recorded. `where_saved` is the
    optional note of where business information was saved, kept with each. An obligation
    already attested is left exactly as it is and reported in `already_done` (double
    click, two tabs, a replayed POST). After the deadline it is accepted and marked
    late, and the member's overdue flag is resolved.
    """
    now = now or timezone.now()
    ids = sorted({o if isinstance(o, int) else o.pk for o in obligations})
    if not ids:
        raise ValidationError({"obligations": "Tick at least one group you have cleared."})
    if channel not in Obligation.Channel.values:
        raise ValidationError(f"Unknown channel “{channel}”.")
    # Rows are locked to the end of the transaction, so two submits at once are decided
    # one after the other: the second sees the first one's status and records nothing.
    locked = list(
        Obligation.objects.select_for_update(of=("self",))
        .select_related("cycle__group")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    if len(locked) != len(ids) or any(o.user_id != user.pk for o in locked):
        raise PermissionDenied("You can only confirm your own clear-downs.")
    if not (confirmed_cleared and confirmed_saved):
        raise ValidationError(
            "Tick both confirmations: that you cleared the chat, and that anything "
            "the office needs was first saved to a corporate system."
        )
    where_saved = clean_text(where_saved, one_line=True)
    if len(where_saved) > Obligation._meta.get_field("where_saved").max_length:
        raise ValidationError({"where_saved": "Keep where you saved it to 200 characters."})
    today = now.astimezone(periods.LONDON).date()
    if cleared_on > today:
        raise ValidationError({"cleared_on": "The date you cleared the chat cannot be in the future."})
    # A hold stands for the group, not only for the cycles it has marked: nothing of a
    # group under a hold is attested, whatever the obligation's status says (R9).
    held_groups = set(
        Hold.objects.standing()
        .filter(group_id__in={o.cycle.group_id for o in locked})
        .values_list("group_id", flat=True)
    )
    # A date too early is the date's fault: it goes beside the date field. A hold or an
    # excuse is about the clear-down itself: it goes above the form.
    errors: dict[str, list[str]] = {NON_FIELD_ERRORS: [], "cleared_on": []}
    for obligation in locked:
        group = obligation.cycle.group
        if obligation.status == Status.HELD or (obligation.is_open and group.pk in held_groups):
            errors[NON_FIELD_ERRORS].append(f"{group.name} is on hold: do NOT clear this chat. Nothing is owed for it.")
        elif obligation.status == Status.EXCUSED:
            errors[NON_FIELD_ERRORS].append(
                f"You were excused from clearing {group.name} for these dates; nothing is owed."
            )
        elif obligation.status == Status.LEFT:
            errors[NON_FIELD_ERRORS].append(f"This clear-down of {group.name} was closed when the account was closed.")
        elif obligation.status == Status.PENDING:
            period_end_day = obligation.cycle.period_end.astimezone(periods.LONDON).date()
            if cleared_on < period_end_day:
                errors["cleared_on"].append(
                    f"{group.name}: the period ended on {period_end_day:%A %-d %B %Y}, so the chat must be "
                    "cleared on or after that day. Clear it again now and give today's date."
                )
    if any(errors.values()):
        raise ValidationError({key: messages for key, messages in errors.items() if messages})

    result = AttestResult()
    for obligation in locked:
        if obligation.status in Obligation.DONE:
            result.already_done.append(obligation)
            continue
        obligation.status = Status.LATE if now > obligation.due_at else Status.ATTESTED
        obligation.attested_at = now
        obligation.cleared_on = cleared_on
        obligation.confirmed_cleared = True
        obligation.confirmed_saved = True
        obligation.channel = channel
        obligation.where_saved = where_saved
        save_with_history(obligation, by=user, reason=f"Attested ({obligation.get_channel_display().lower()})")
        result.recorded.append(obligation)
    if result.recorded:
        # Chained in this same transaction: an attestation exists only with its ledger entry.
        ledger_append(obligations=result.recorded, now=now)
        flags_resolve(
            Flag.objects.filter(
                kind=Flag.Kind.MEMBER_OVERDUE,
                user=user,
                cycle_id__in=[o.cycle_id for o in result.recorded],
            ),
            by=user,
            now=now,
            reason="Late attestation received",
        )
    return result


# --- The admin's prompt (R5) ----------------------------------------------------------------


def can_prompt(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """The group's admin or deputy, or the DPO.

    Whatever other role they hold (R12): an auditor named admin of a group runs it. The
    auditor role itself grants no management of any group, so an auditor cannot prompt or
    excuse in a group they do not run.
    """
    return group_permissions.can_manage(user, group)


@dataclass
class PromptResult:
    cycle: Cycle
    first: bool
    outstanding: int


@transaction.atomic
def cycle_prompt(*, cycle: Cycle, by: AbstractBaseUser, now: dt.datetime | None = None) -> PromptResult:
    """Record the admin's prompt for a cycle and email each member who still owes a link.

    The first prompt is the one recorded; issuing it again changes nothing (the message
    to paste is still shown). Each email is a `SentEmail` row written in the same
    transaction and sent by a task queued after the commit, like every other email: if the
    broker is down or a worker dies, the row stays pending and a later sweep sends it.
    """
    now = now or timezone.now()
    cycle = Cycle.objects.select_for_update(of=("self",)).select_related("group").get(pk=cycle.pk)
    group = cycle.group
    if not can_prompt(by, group):
        raise PermissionDenied
    if cycle.hold_id or Hold.objects.standing().filter(group=group).exists():
        raise ValidationError(f"{group.name} is on hold: members must NOT clear the chat, so no prompt is issued.")
    outstanding = cycle.obligations.filter(status=Status.PENDING).count()
    if cycle.prompted_at is not None:
        return PromptResult(cycle=cycle, first=False, outstanding=outstanding)
    cycle.prompted_at = now
    cycle.prompted_by = by
    save_with_history(cycle, by=by, reason="Prompt issued")
    flags_resolve(
        Flag.objects.filter(kind=Flag.Kind.PROMPT_MISSED, cycle=cycle), by=by, now=now, reason="Prompt issued late"
    )
    if outstanding:
        _prompt_emails_add(cycle=cycle, now=now)
    return PromptResult(cycle=cycle, first=True, outstanding=outstanding)


def _prompt_emails_add(*, cycle: Cycle, now: dt.datetime) -> list[int]:
    """The prompt email to each member who still owes a clear-down for the cycle (R5).

    Recorded inside the prompt's own transaction (the cycle row locked), so the prompt and
    its emails are recorded together or not at all. Claimed by `prompt_emailed_at IS NULL`;
    sent by the outbox like every other email, so a lost task or a dead worker is caught by
    the sweep. A member with no email address is not claimed: the sweep emails them once
    they have one, and the dashboard names them meanwhile.
    """
    pending = cycle.obligations.filter(status=Status.PENDING, prompt_emailed_at__isnull=True).exclude(user__email="")
    rows = list(pending.values_list(*outbox.MEMBER_EMAIL_FIELDS))
    return outbox.member_emails_add(SentEmail.Kind.PROMPT, "prompt_emailed_at", rows, now=now, queue=True)


# --- Excusing (R7) ----------------------------------------------------------------------


@transaction.atomic
def obligation_excuse(
    *, obligation: Obligation, by: AbstractBaseUser, reason: str, now: dt.datetime | None = None
) -> Obligation:
    """Excuse a member from one cycle (leave, sickness). Admin, deputy or DPO, with a reason.

    Nobody excuses themselves: the deputy or the DPO does it for an admin.
    """
    now = now or timezone.now()
    obligation = (
        Obligation.objects.select_for_update(of=("self",)).select_related("cycle__group", "user").get(pk=obligation.pk)
    )
    group = obligation.cycle.group
    if not can_prompt(by, group):
        raise PermissionDenied
    if obligation.user_id == by.pk:
        raise ValidationError("You cannot excuse yourself. Ask the group's deputy or the DPO.")
    reason = clean_text(reason)
    if not reason:
        raise ValidationError({"reason": "Give a reason, such as leave or sickness: it is kept in the history."})
    who = display_name(obligation.user)
    if obligation.status != Status.PENDING:
        raise ValidationError(
            f"{who} cannot be excused: this clear-down is already {obligation.get_status_display().lower()}."
        )
    obligation.status = Status.EXCUSED
    obligation.excused_by = by
    obligation.excused_at = now
    obligation.excuse_reason = reason
    save_with_history(obligation, by=by, reason=f"Excused: {reason}")
    flags_resolve(
        Flag.objects.filter(kind=Flag.Kind.MEMBER_OVERDUE, cycle_id=obligation.cycle_id, user_id=obligation.user_id),
        by=by,
        now=now,
        reason="Excused",
    )
    return obligation


# --- Holds (R9) ---------------------------------------------------------------------------


def can_hold(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and user.has_perm("attestations.place_hold")


@transaction.atomic
def hold_place(
    *, group: ChatGroup, by: AbstractBaseUser, reference: str, reason: str, now: dt.datetime | None = None
) -> Hold:
    """Stop clear-downs of a group while its information must be kept. DPO only.

    Every open obligation of the group moves to held and its cycle records the hold;
    open flags of the group are resolved, because nothing is flagged while held.
    """
    now = now or timezone.now()
    if not can_hold(by):
        raise PermissionDenied
    # Serialised with `cycle_close_due` (and taken before the group's row, in the closer's
    # order): a close that read the group before this hold existed would otherwise commit
    # its new cycle just after, unheld and with pending obligations. Now the close either
    # commits first (and its obligations are held below) or runs after and sees the hold.
    lock(Lock.CYCLES_CLOSE)
    group = ChatGroup.objects.select_for_update().get(pk=group.pk)
    reference = clean_text(reference, one_line=True)
    reason = clean_text(reason)
    errors = {}
    if not reference:
        errors["reference"] = "Give the reference of the request or case, such as the FOI number."
    elif len(reference) > Hold._meta.get_field("reference").max_length:
        errors["reference"] = "The reference is too long (100 characters at most)."
    if not reason:
        errors["reason"] = "Say why the information must be kept."
    if errors:
        raise ValidationError(errors)
    existing = Hold.objects.standing().filter(group=group).first()
    if existing:
        raise ValidationError(f"{group.name} is already on hold ({existing.reference}).")
    # WhatsApp's timer would delete what the hold keeps: its admin must turn it off (R17).
    hold = Hold(
        group=group,
        reference=reference,
        reason=reason,
        placed_by=by,
        placed_at=now,
        timer_off_required=group.uses_timer,
    )
    try:
        with transaction.atomic():
            save_with_history(hold, by=by, reason=f"Hold placed: {reference}")
    except IntegrityError as exc:
        raise ValidationError(f"{group.name} is already on hold.") from exc

    held = list(Obligation.objects.select_for_update(of=("self",)).filter(cycle__group=group, status=Status.PENDING))
    for obligation in held:
        obligation.status = Status.HELD
    Obligation.objects.bulk_update(held, ["status"])
    bulk_history(Obligation, held, by=by, reason=f"Hold placed: {reference}", update=True)

    cycles = list(
        Cycle.objects.select_for_update()
        .filter(group=group, hold__isnull=True)
        .filter(Q(pk__in={o.cycle_id for o in held}) | Q(due_at__gt=now))
    )
    for cycle in cycles:
        cycle.hold = hold
    Cycle.objects.bulk_update(cycles, ["hold"])
    bulk_history(Cycle, cycles, by=by, reason=f"Hold placed: {reference}", update=True)

    flags_resolve(Flag.objects.filter(cycle__group=group), by=by, now=now, reason="Hold placed")
    if hold.timer_off_required:
        # Open at once, not at the next sweep: the DPO sees the duty until the admin confirms.
        flags = Flag.objects.bulk_create(_timer_flags_new(now=now, holds=Hold.objects.filter(pk=hold.pk)))
        bulk_history(Flag, flags, by=by, reason="Raised: turn the timer off", update=False)
    return hold


@transaction.atomic
def hold_lift(*, hold: Hold, by: AbstractBaseUser, reason: str, now: dt.datetime | None = None) -> Hold:
    """End a hold. DPO only, with a reason.

    The cycles that were held stay held: the next cycle asks members to Clear Chat, which
    deletes everything, including the messages of the held weeks.
    """
    now = now or timezone.now()
    if not can_hold(by):
        raise PermissionDenied
    hold = Hold.objects.select_for_update().select_related("group").get(pk=hold.pk)
    reason = clean_text(reason)
    if not reason:
        raise ValidationError({"reason": "Say why the hold can end (for example, the request is closed)."})
    if hold.lifted_at is not None:
        raise ValidationError(f"This hold was already lifted on {hold.lifted_at.astimezone(periods.LONDON):%-d %B %Y}.")
    hold.lifted_at = now
    hold.lifted_by = by
    hold.lift_reason = reason
    save_with_history(hold, by=by, reason=f"Hold lifted: {reason}")
    return hold


# --- Flags (R8) ---------------------------------------------------------------------------


@dataclass
class FlagsResult:
    raised: list[Flag] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.raised if f.kind == kind)


@transaction.atomic
def flags_raise(*, now: dt.datetime | None = None) -> FlagsResult:
    """Raise a flag for every obligation still due after its deadline, and for every cycle
    whose prompt was not issued by its time (on the group's admin).

    Set-based and idempotent: each kind is one SELECT of what has no flag yet and one
    bulk INSERT, under a lock, with the unique constraint (cycle, user, kind) behind it.
    Nothing is flagged for a held cycle or a group under a hold (R9). A suspended or retired
    group is flagged like any other: what its members owe is still owed (R13).
    """
    now = now or timezone.now()
    lock(Lock.FLAGS)
    group_held = Hold.objects.standing_on("cycle__group")
    existing = Flag.objects.filter(cycle=OuterRef("cycle"), user=OuterRef("user"), kind=Flag.Kind.MEMBER_OVERDUE)
    overdue = (
        Obligation.objects.filter(status=Status.PENDING, due_at__lt=now, cycle__hold__isnull=True)
        .filter(~group_held, ~Exists(existing))
        .values_list("cycle_id", "cycle__group_id", "user_id")
    )
    new_flags = [
        Flag(kind=Flag.Kind.MEMBER_OVERDUE, cycle_id=cycle_id, group_id=group_id, user_id=user_id, raised_at=now)
        for cycle_id, group_id, user_id in overdue
    ]
    cycle_held = Hold.objects.standing_on("group")
    missed = (
        Cycle.objects.filter(prompted_at__isnull=True, prompt_due_at__lt=now, hold__isnull=True)
        .filter(~cycle_held, ~Exists(Flag.objects.filter(cycle=OuterRef("pk"), kind=Flag.Kind.PROMPT_MISSED)))
        .values_list(
            "pk",
            "group_id",
            "group__admin_id",
            "group__admin__is_active",
            "group__deputy_id",
            "group__deputy__is_active",
        )
    )
    # A missed prompt is the admin's; once the admin has left the organisation (R14), the
    # deputy's until the DPO names a new admin, or nobody's: the DPO was told of the group.
    new_flags += [
        Flag(kind=Flag.Kind.PROMPT_MISSED, cycle_id=cycle_id, group_id=group_id, user_id=person, raised_at=now)
        for cycle_id, group_id, admin_id, admin_active, deputy_id, deputy_active in missed
        if (person := admin_id if admin_active else (deputy_id if deputy_active else None))
    ]
    new_flags += _review_flags_new(now=now)
    new_flags += _timer_flags_new(now=now, holds=Hold.objects.standing())
    result = FlagsResult()
    if new_flags:
        result.raised = Flag.objects.bulk_create(new_flags)
        bulk_history(Flag, result.raised, by=None, reason="Raised", update=False)
    return result


# Who runs a group, as read with each flag's subject: a flag on the group goes to its admin,
# or to the deputy once the admin has left (R14), or to nobody (the DPO was told of the group).
_RUNNERS = ("group_id", "group__admin_id", "group__admin__is_active", "group__deputy_id", "group__deputy__is_active")


def _flags_on_runner(rows, *, kind: str, subject: str, now: dt.datetime) -> list[Flag]:
    """A flag of `kind` about each row's subject (`subject` names the field: review, hold),
    on the group's admin or deputy. Rows are (subject id, *_RUNNERS)."""
    return [
        Flag(kind=kind, group_id=group_id, user_id=person, raised_at=now, **{f"{subject}_id": subject_id})
        for subject_id, group_id, admin_id, admin_active, deputy_id, deputy_active in rows
        if (person := admin_id if admin_active else (deputy_id if deputy_active else None))
    ]


def _review_flags_new(*, now: dt.datetime) -> list[Flag]:
    """A flag for every approved group's review still waiting for its admin after its due
    date, and not yet flagged (R16). A review submitted, or a group no longer approved,
    raises nothing. A hold does not stop a review: it deletes nothing. One query."""
    open_flag = Flag.objects.filter(review=OuterRef("pk"), kind=Flag.Kind.REVIEW_OVERDUE, resolved_at__isnull=True)
    overdue = (
        GroupReview.objects.filter(
            status=GroupReview.Status.DUE, due_at__lt=now, group__status=ChatGroup.Status.APPROVED
        )
        .filter(~Exists(open_flag))
        .values_list("pk", *_RUNNERS)
    )
    return _flags_on_runner(overdue, kind=Flag.Kind.REVIEW_OVERDUE, subject="review", now=now)


def _timer_flags_new(*, now: dt.datetime, holds) -> list[Flag]:
    """A flag for every standing hold on a disappearing-messages group whose timer is not yet
    confirmed off, and not yet flagged (R17). One query."""
    open_flag = Flag.objects.filter(hold=OuterRef("pk"), kind=Flag.Kind.TIMER_NOT_OFF, resolved_at__isnull=True)
    waiting = (
        holds.filter(timer_off_required=True, timer_off_at__isnull=True, lifted_at__isnull=True)
        .filter(~Exists(open_flag))
        .values_list("pk", *_RUNNERS)
    )
    return _flags_on_runner(waiting, kind=Flag.Kind.TIMER_NOT_OFF, subject="hold", now=now)


def flags_resolve(flags, *, by: AbstractBaseUser | None, now: dt.datetime, reason: str) -> int:
    """Resolve open flags (a queryset), with a history row each. Two queries, any number."""
    open_flags = list(flags.filter(resolved_at__isnull=True).select_for_update(of=("self",)))
    for flag in open_flags:
        flag.resolved_at = max(now, flag.raised_at)
    Flag.objects.bulk_update(open_flags, ["resolved_at"])
    bulk_history(Flag, open_flags, by=by, reason=reason, update=True)
    return len(open_flags)


@transaction.atomic
def flags_resolve_settled(*, now: dt.datetime | None = None) -> int:
    """Resolve open flags whose cause has gone, whatever path it went by.

    The services that settle an obligation resolve its flag themselves; this catches the
    rest: an attestation committed while the flag was being raised, a prompt issued in
    the same minute, a hold placed on a group. A group suspended or retired keeps its
    flags: what its members owe is still owed (R13).
    """
    now = now or timezone.now()
    lock(Lock.FLAGS)
    open_flags = Flag.objects.filter(resolved_at__isnull=True)
    settled_obligation = Obligation.objects.filter(cycle=OuterRef("cycle"), user=OuterRef("user")).exclude(
        status=Status.PENDING
    )
    resolved = flags_resolve(
        open_flags.filter(kind=Flag.Kind.MEMBER_OVERDUE).filter(Exists(settled_obligation)),
        by=None,
        now=now,
        reason="Settled: attested, excused or held",
    )
    resolved += flags_resolve(
        open_flags.filter(kind=Flag.Kind.PROMPT_MISSED, cycle__prompted_at__isnull=False),
        by=None,
        now=now,
        reason="Prompt issued late",
    )
    resolved += flags_resolve(
        open_flags.filter(kind=Flag.Kind.REVIEW_OVERDUE).filter(
            ~Q(review__status=GroupReview.Status.DUE) | ~Q(review__group__status=ChatGroup.Status.APPROVED)
        ),
        by=None,
        now=now,
        reason="Review submitted, or the group is no longer approved",
    )
    resolved += flags_resolve(
        open_flags.filter(kind=Flag.Kind.TIMER_NOT_OFF).filter(
            Q(hold__timer_off_at__isnull=False) | Q(hold__lifted_at__isnull=False)
        ),
        by=None,
        now=now,
        reason="Timer confirmed off, or the hold was lifted",
    )
    resolved += flags_resolve(
        open_flags.filter(Q(cycle__hold__isnull=False) | Hold.objects.standing_on()),
        by=None,
        now=now,
        reason="Hold placed",
    )
    return resolved


# --- Heartbeats (/healthz/status) ----------------------------------------------------------


def heartbeat_record(*, name: str, now: dt.datetime | None = None) -> None:
    """Record that a background process (`worker`, `sweep`) is alive now.

    One upsert statement: atomic on its own, and safe to run twice or at the same time.
    """
    now = now or timezone.now()
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, seen_at=now)], update_conflicts=True, unique_fields=["name"], update_fields=["seen_at"]
    )


# --- One effect per beat tick (several hosts) -------------------------------------------------

BEAT_TICKS_KEPT = dt.timedelta(days=7)


def beat_tick_slot(*, now: dt.datetime, every_minutes: int) -> dt.datetime:
    """The start of the schedule slot `now` falls in: `every_minutes` divides an hour, so the
    slots are the same on the UK clock as in UTC."""
    return now.replace(second=0, microsecond=0) - dt.timedelta(minutes=now.minute % every_minutes)


def beat_tick_claim(*, task: str, every_minutes: int, now: dt.datetime | None = None) -> bool:
    """Claim this slot's run of a beat-scheduled task: True for the first run in the slot,
    False for every other (a second beat's copy, a redelivered message).

    One INSERT against a unique constraint: two workers running the same tick at once cannot
    both win, whatever the database. A run that loses does nothing; a run that was cut short
    is made good by the next slot's run, as every scheduled task catches up.
    """
    now = now or timezone.now()
    slot = beat_tick_slot(now=now, every_minutes=every_minutes)
    try:
        with transaction.atomic():
            BeatTick.objects.create(task=task, slot=slot, ran_at=now)
    except IntegrityError:
        logger.info("%s for %s already ran (a second beat?); skipped", task, slot.isoformat())
        return False
    BeatTick.objects.filter(task=task, slot__lt=now - BEAT_TICKS_KEPT).delete()
    return True
