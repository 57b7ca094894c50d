"""The periodic review of every approved group (docs/rules.md: R16).

The admin (or deputy) answers one page: the business purpose still stands (reworded if
need be), each member kept or removed, the group used for OFFICIAL information only, its
WhatsApp settings as agreed. The DPO signs the review off, which schedules the next one
(`GROUP_REVIEW_MONTHS` after the sign-off, or the group's own interval), or sends it back
with a reason, which emails the admin and deputy. A review not answered by its due date is
a flag on the admin like a missed prompt (`services.flags_raise`); a group whose review is
overdue by a further interval is put to the DPO as "review overdue: suspend?".

The review rows live with the register (`groups.models.GroupReview`); the writes that
touch flags and emails live here, in the clear-down core. Removals go through the
register's own `membership_remove`, so the member's history and what they still owe stay
right (R7, R13).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from groups import permissions as group_permissions
from groups import services as group_services
from groups.models import ChatGroup, GroupReview, Membership, ReviewAnswer
from groups.validators import clean_text
from opcc_portal.lib.history import bulk_history, save_with_history
from opcc_portal.lib.text import display_name

from . import outbox
from .models import Flag, SentEmail
from .services import flags_resolve

Due = GroupReview.Status.DUE
Submitted = GroupReview.Status.SUBMITTED
SignedOff = GroupReview.Status.SIGNED_OFF

# The statuses of a group whose review can be answered: a suspended group may still be
# reviewed (the DPO may want the answers before reinstating it); a retired one is gone.
ANSWERABLE = (ChatGroup.Status.APPROVED, ChatGroup.Status.SUSPENDED)


def can_answer(user: AbstractBaseUser, group: ChatGroup) -> bool:
    """The admin or deputy answers the review: the people who run the chat. Not the DPO,
    who signs it off: nobody signs off their own answers."""
    return user.is_authenticated and user.pk in (group.admin_id, group.deputy_id)


def can_decide(user: AbstractBaseUser) -> bool:
    return group_permissions.is_dpo(user)


def can_read(user: AbstractBaseUser, group: ChatGroup) -> bool:
    return can_answer(user, group) or group_permissions.is_dpo(user) or group_permissions.is_auditor(user)


# --- Reads ------------------------------------------------------------------------------


def review_open(*, group: ChatGroup) -> GroupReview | None:
    """The group's open review (at most one: a constraint), or None."""
    return GroupReview.objects.filter(group=group).exclude(status=SignedOff).first()


def review_last_signed_off(*, group: ChatGroup) -> GroupReview | None:
    return (
        GroupReview.objects.filter(group=group, status=SignedOff)
        .select_related("signed_off_by")
        .order_by("-signed_off_at")
        .first()
    )


def review_answers(*, review: GroupReview) -> list[ReviewAnswer]:
    """The answers of the review's last submission, with each member. One query."""
    return list(
        review.answers.filter(submission=review.submission)
        .select_related("membership__user")
        .order_by("membership__user__last_name", "membership__user__first_name", "membership__user__username")
    )


@dataclass
class ReviewBoard:
    """What the DPO sees of reviews: waiting for sign-off, overdue, and overdue by a further
    interval ("review overdue: suspend?")."""

    waiting: list[GroupReview]
    overdue: list[GroupReview]
    suspend: list[GroupReview]
    upcoming: list[GroupReview]


def review_board(*, now: dt.datetime, upcoming_days: int = 30) -> ReviewBoard:
    """Every open review of an approved or suspended group, sorted into the board's lists.
    One query however many groups."""
    rows = list(
        GroupReview.objects.exclude(status=SignedOff)
        .filter(group__status__in=ANSWERABLE)
        .select_related("group__admin", "group__deputy", "submitted_by")
        .order_by("due_at", "pk")
    )
    board = ReviewBoard(waiting=[], overdue=[], suspend=[], upcoming=[])
    for review in rows:
        if review.status == Submitted:
            board.waiting.append(review)
        elif review.due_at < now:
            further = group_services.review_due_after(review.group, review.due_at)
            if further < now and review.group.status == ChatGroup.Status.APPROVED:
                board.suspend.append(review)
            else:
                board.overdue.append(review)
        elif review.due_at < now + dt.timedelta(days=upcoming_days):
            board.upcoming.append(review)
    return board


def reviews_due_for(*, user: AbstractBaseUser) -> QuerySet[GroupReview]:
    """Reviews waiting for this person's answers: of the groups they run. One query."""
    runs = Q(group__admin=user) | Q(group__deputy=user)
    return GroupReview.objects.filter(runs, status=Due, group__status__in=ANSWERABLE).select_related("group")


# --- Writes -----------------------------------------------------------------------------


def _locked(review: GroupReview) -> GroupReview:
    return GroupReview.objects.select_for_update(of=("self",)).select_related("group").get(pk=review.pk)


@transaction.atomic
def review_submit(
    *,
    review: GroupReview,
    by: AbstractBaseUser,
    purpose: str,
    purpose_confirmed: bool,
    official_only: bool,
    settings_confirmed: bool,
    keep: Mapping[int, bool],
    now: dt.datetime | None = None,
) -> GroupReview:
    """The admin's (or deputy's) answers, in one submit. `keep` maps every current
    membership's id to keep (True) or remove (False); the removals end those memberships
    at once, through the register's service. The purpose, if reworded, becomes the group's
    when the DPO signs the review off."""
    now = now or timezone.now()
    review = _locked(review)
    group = ChatGroup.objects.select_for_update().get(pk=review.group_id)
    if not can_answer(by, group):
        raise PermissionDenied
    if review.status != Due:
        raise ValidationError(
            "This review has already been answered and is with the DPO."
            if review.status == Submitted
            else "This review has already been signed off."
        )
    if group.status not in ANSWERABLE:
        raise ValidationError("A retired group is no longer reviewed.")
    errors: dict[str, str] = {}
    purpose = clean_text(purpose)
    if not purpose:
        errors["purpose"] = "Say what business purpose the group serves."
    elif len(purpose) > GroupReview._meta.get_field("purpose").max_length:
        errors["purpose"] = "The purpose is too long (2000 characters at most)."
    if not purpose_confirmed:
        errors["purpose_confirmed"] = "Confirm that the group's business purpose still stands."
    if not official_only:
        errors["official_only"] = "Confirm that the group is used for OFFICIAL information only."
    if not settings_confirmed:
        errors["settings_confirmed"] = "Confirm the group's WhatsApp settings."
    members = list(Membership.objects.active().filter(group=group).select_related("user"))
    current = {m.pk for m in members}
    if set(keep) != current:
        errors["members"] = "The group's members changed while you had this page open. Check the list again."
    else:
        admin = next((m for m in members if m.user_id == group.admin_id), None)
        if admin is not None and not keep[admin.pk]:
            errors["members"] = (
                f"{display_name(admin.user)} is the group's admin and stays in it. Hand the admin role to "
                "another member first if they should leave."
            )
    if errors:
        raise ValidationError(errors)

    review.submission += 1
    review.purpose = purpose
    review.purpose_confirmed = review.official_only = review.settings_confirmed = True
    review.submitted_by = by
    review.submitted_at = now
    review.status = Submitted
    answers = ReviewAnswer.objects.bulk_create(
        [ReviewAnswer(review=review, membership=m, submission=review.submission, keep=keep[m.pk]) for m in members]
    )
    bulk_history(ReviewAnswer, answers, by=by, reason=f"Review answer {review.submission}", update=False)
    save_with_history(review, by=by, reason=f"Answered ({review.submission})")
    for membership in members:
        if not keep[membership.pk]:
            group_services.membership_remove(membership=membership, by=by)
    flags_resolve(
        Flag.objects.filter(review=review, kind=Flag.Kind.REVIEW_OVERDUE), by=by, now=now, reason="Review answered"
    )
    return review


@transaction.atomic
def review_sign_off(*, review: GroupReview, by: AbstractBaseUser, now: dt.datetime | None = None) -> GroupReview:
    """The DPO signs the answered review off: a reworded purpose becomes the group's, and
    the next review is due one interval from now."""
    now = now or timezone.now()
    if not can_decide(by):
        raise PermissionDenied
    review = _locked(review)
    if review.status != Submitted:
        raise ValidationError(
            "This review has not been answered yet." if review.status == Due else "This review is already signed off."
        )
    group = ChatGroup.objects.select_for_update().get(pk=review.group_id)
    if review.purpose and review.purpose != group.purpose:
        group.purpose = review.purpose
        save_with_history(group, by=by, reason="Purpose confirmed at review")
    review.status = SignedOff
    review.signed_off_by = by
    review.signed_off_at = now
    save_with_history(review, by=by, reason="Signed off")
    if group.status in ANSWERABLE:
        group_services.review_schedule(group=group, after=now, by=by)
    return review


@transaction.atomic
def review_send_back(
    *, review: GroupReview, by: AbstractBaseUser, reason: str, now: dt.datetime | None = None
) -> GroupReview:
    """The DPO sends the answered review back with a reason: it waits for the admin again,
    and the admin and deputy are emailed the reason. Removals already made stay made."""
    now = now or timezone.now()
    if not can_decide(by):
        raise PermissionDenied
    reason = clean_text(reason)
    if not reason:
        raise ValidationError({"reason": "Say what the admin should change: they are emailed your reason."})
    review = _locked(review)
    if review.status != Submitted:
        raise ValidationError(
            "This review has not been answered yet." if review.status == Due else "This review is already signed off."
        )
    review.status = Due
    review.returned_by = by
    review.returned_at = now
    review.return_reason = reason
    save_with_history(review, by=by, reason=f"Sent back: {reason}")
    group = ChatGroup.objects.select_related("admin", "deputy").get(pk=review.group_id)
    people = [p for p in (group.admin, group.deputy) if p is not None and p.is_active and p.email]
    outbox.outbox_add(
        [
            SentEmail(
                key=f"review-returned:r{review.pk}:n{review.submission}:u{person.pk}",
                kind=SentEmail.Kind.REVIEW_RETURNED,
                user=person,
                to_address=person.email,
                group=group,
                created_at=now,
            )
            for person in people
        ]
    )
    return review


@transaction.atomic
def review_interval_set(*, group: ChatGroup, by: AbstractBaseUser, months: int | None) -> ChatGroup:
    """The DPO sets how often one group is reviewed (None: GROUP_REVIEW_MONTHS). A review
    waiting for the admin is then due one new interval after the last sign-off (or the
    approval)."""
    if not can_decide(by):
        raise PermissionDenied
    if months is not None and not 1 <= months <= 24:
        raise ValidationError({"months": "Choose between 1 and 24 months, or leave it empty for the default."})
    group = ChatGroup.objects.select_for_update().get(pk=group.pk)
    group.review_months = months
    save_with_history(group, by=by, reason=f"Review every {months} months" if months else "Review interval: default")
    review = GroupReview.objects.select_for_update().filter(group=group, status=Due).first()
    if review is not None:
        last = review_last_signed_off(group=group)
        start = last.signed_off_at if last else (group.approved_at or review.created_at)
        review.due_at = group_services.review_due_after(group, start)
        save_with_history(review, by=by, reason="Due date moved: new interval")
    return group
