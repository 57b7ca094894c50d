"""The pages' actions of WhatsApp's disappearing messages (R17): the DPO's choice of mode, the
admin's weekly word that the timer is on, and the admin's word that it is off for a hold.
Each is a POST from the group page, which shows the result."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from groups import permissions as group_permissions

from . import disappearing
from .forms_reviews import ClearModeForm
from .models import Hold


def _refused(request, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


@login_required
@require_POST
def clear_mode(request, pk: int):
    """The DPO approves or withdraws disappearing messages for a group."""
    if not group_permissions.is_dpo(request.user):
        raise PermissionDenied
    group = group_permissions.get_group_for_user(request.user, pk)
    form = ClearModeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how the chat is cleared and how often the timer is confirmed.")
        return redirect(group.get_absolute_url())
    try:
        group = disappearing.clear_mode_set(
            group=group, by=request.user, mode=form.cleaned_data["mode"], timer_check=form.cleaned_data["timer_check"]
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"{group.name}: {group.get_clear_mode_display()}.")
    return redirect(group.get_absolute_url())


@login_required
@require_POST
def timer_confirm(request, pk: int):
    """The admin (or deputy) confirms the timer is on at 7 days and locked to admins."""
    group = group_permissions.get_group_for_user(request.user, pk)
    try:
        disappearing.timer_confirm(group=group, by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"Thank you: {group.name}'s disappearing-messages timer is confirmed on.")
    return redirect(group.get_absolute_url())


@login_required
@require_POST
def hold_timer_off(request, pk: int):
    """The admin (or deputy) confirms the timer is OFF for the hold."""
    hold = get_object_or_404(Hold.objects.select_related("group"), pk=pk)
    if not group_permissions.can_see_group(request.user, hold.group):
        raise PermissionDenied
    try:
        disappearing.hold_timer_off_confirm(hold=hold, by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"Thank you: the timer of {hold.group.name} is recorded as off for the hold.")
    return redirect(hold.group.get_absolute_url())
