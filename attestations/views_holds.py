"""Pages of a hold's notice (issue 20): its record, acknowledging it, and the chat message posted.

Thin: check the role and the object, call one service, redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import hold_notices, links, periods, permissions
from .models import Hold, HoldNotice


@login_required
@require_safe
def hold_detail(request, pk: int):
    """The record of a hold: what was done on receipt of the request, who was told, who acknowledged.

    Laid out to print as the office's record (the print stylesheet drops the navigation).
    """
    hold = permissions.get_hold_for_record(request.user, pk)
    record = hold_notices.hold_record(hold=hold)
    return render(
        request,
        "attestations/hold_detail.html",
        {
            "record": record,
            "hold": record.hold,
            "group": record.hold.group,
            "can_hold": permissions.can_hold(request.user),
            "chat_text": hold_notices.hold_chat_text(hold=record.hold),
            "generated_at": timezone.now(),
        },
    )


def _said(request, result: hold_notices.AckResult) -> None:
    hold = result.notice.hold
    if result.first:
        messages.success(
            request, f"Thank you. You have acknowledged the hold {hold.reference}: do not clear {hold.group.name}."
        )
    else:
        when = result.notice.acknowledged_at.astimezone(periods.LONDON)
        messages.info(
            request,
            f"You had already acknowledged the hold {hold.reference} on {when:%-d %B %Y at %H:%M}; "
            "nothing new was recorded.",
        )


def _acknowledge(request, hold: Hold, channel: str):
    try:
        result = hold_notices.hold_notice_acknowledge(hold=hold, user=request.user, channel=channel)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("home")
    _said(request, result)
    return redirect("home")


@login_required
@require_POST
def hold_ack(request, pk: int):
    """Acknowledge a hold from the home page: a member's own duty, whatever their other roles (R12)."""
    hold = get_object_or_404(Hold.objects.select_related("group"), pk=pk)
    return _acknowledge(request, hold, HoldNotice.Channel.WEB)


def _link_problem(request, problem: str, status: int):
    return render(request, "attestations/hold_ack_problem.html", {"problem": problem}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def hold_ack_link(request, token: str):
    """The page a hold notice's link opens. A GET only shows it (email scanners open links);
    the owner's POST records the acknowledgement."""
    try:
        notice_id, user_id = links.hold_notice_link_read(token)
    except links.LinkExpired:
        return _link_problem(request, "expired", 410)
    except links.LinkInvalid:
        return _link_problem(request, "invalid", 400)
    if user_id != request.user.pk:
        return _link_problem(request, "not_yours", 403)
    notice = HoldNotice.objects.select_related("hold__group").filter(pk=notice_id, user=request.user).first()
    if notice is None:
        return _link_problem(request, "invalid", 404)
    if request.method == "POST":
        return _acknowledge(request, notice.hold, HoldNotice.Channel.EMAIL)
    return render(request, "attestations/hold_ack_confirm.html", {"notice": notice, "hold": notice.hold})


@login_required
@require_POST
def hold_chat_posted(request, pk: int):
    """The admin (or deputy, or DPO) confirms they posted the hold message in the WhatsApp group."""
    hold = permissions.get_hold_for_chat(request.user, pk)
    try:
        first = hold_notices.hold_chat_posted(hold=hold, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(hold.group)
    if first:
        messages.success(request, "Recorded: the hold message was posted in the WhatsApp group.")
    else:
        messages.info(request, "That the message was posted was already recorded.")
    return redirect(f"{hold.group.get_absolute_url()}#hold-chat-heading")
