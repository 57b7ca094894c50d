"""Register pages. Thin: validate the form, check the role and object, call one service."""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils.text import get_text_list
from django.views.decorators.http import require_http_methods, require_safe

from opcc_portal.forms import call_service
from opcc_portal.lib.text import display_name

from . import permissions, selectors, services
from .forms import (
    BulkAddForm,
    ChatGroupEditForm,
    ChatGroupForm,
    DeputyForm,
    StaffSearchForm,
    TransitionForm,
    UserChoiceForm,
)
from .models import DEFAULT_LOGO, ChatGroup, Membership, PendingMembership

logger = logging.getLogger(__name__)


@login_required
@require_safe
def register(request):
    # NUL characters cannot be stored or searched for in PostgreSQL; nobody types them.
    search = request.GET.get("q", "")[:100].replace("\x00", "")
    status = request.GET.get("status", "")
    groups = selectors.register_list(user=request.user, search=search, status=status)
    page = Paginator(groups, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "groups/register.html",
        {
            "page": page,
            "search": search,
            "status": status if status in ChatGroup.Status.values else "",
            "statuses": ChatGroup.Status.choices,
            "can_propose": permissions.can_propose(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def propose(request):
    if not permissions.can_propose(request.user):
        raise PermissionDenied
    form = ChatGroupForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        group = call_service(
            form,
            services.chatgroup_propose,
            by=request.user,
            name=form.cleaned_data["name"],
            purpose=form.cleaned_data["purpose"],
            logo=form.cleaned_data["logo"],
            cycle_weekday=form.cleaned_data["cycle_weekday"],
            cycle_time=form.cleaned_data["cycle_time"],
        )
        if group:
            messages.success(request, f"“{group.name}” has been proposed. The DPO will review it.")
            return redirect(group)
    return render(request, "groups/propose.html", {"form": form})


@login_required
@require_safe
def detail(request, pk: int):
    group = permissions.get_group_for_user(request.user, pk)
    members = list(selectors.group_members(group=group))
    timeline, earlier_changes = selectors.status_timeline(group=group)
    can_manage = permissions.can_manage(request.user, group) and group.status != ChatGroup.Status.RETIRED
    context = {
        "group": group,
        "current_members": [m for m in members if m.is_active],
        "past_members": [m for m in members if not m.is_active],
        "status_timeline": timeline,
        "earlier_status_changes": earlier_changes,
        "can_manage": can_manage,
        "can_assign_roles": can_manage and permissions.can_assign_roles(request.user, group),
        "is_dpo": permissions.is_dpo(request.user),
        "can_read_history": permissions.can_read_history(request.user, group),
        "actions": services.allowed_actions(group) if permissions.is_dpo(request.user) else [],
    }
    # The hold banner and the current clear-down cycle come from the clear-downs' template
    # tag (`group_clear_downs`): the register does not import them.
    return render(request, "groups/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    group = permissions.get_group_for_manage(request.user, pk)
    initial = {
        "name": group.name,
        "purpose": group.purpose,
        "cycle_weekday": group.cycle_weekday,
        "cycle_time": group.cycle_time,
    }
    details_locked = not permissions.can_change_description(request.user, group)
    form = ChatGroupEditForm(
        request.POST or None, request.FILES or None, initial=initial, lock_description=details_locked
    )
    if request.method == "POST" and form.is_valid():
        updated = call_service(
            form,
            services.chatgroup_update,
            group=group,
            by=request.user,
            name=form.cleaned_data["name"],
            purpose=form.cleaned_data["purpose"],
            cycle_weekday=form.cleaned_data["cycle_weekday"],
            cycle_time=form.cleaned_data["cycle_time"],
            logo=form.cleaned_data["logo"],
            remove_logo=form.cleaned_data["remove_logo"],
        )
        if updated:
            messages.success(request, "The group's details have been saved.")
            return redirect(updated)
    return render(request, "groups/edit.html", {"group": group, "form": form, "details_locked": details_locked})


ACTION_LABELS = {
    "approve": ("Approve", "Approving adds the group to the register and starts its weekly clear-downs."),
    "suspend": ("Suspend", "While suspended the group takes no part in clear-downs. It can be reinstated."),
    "reinstate": ("Reinstate", "The group returns to the register and its weekly clear-downs restart."),
    "retire": ("Retire", "Retiring is final: the group leaves the register for good. Its history is kept."),
}


@login_required
@require_http_methods(["GET", "POST"])
def transition(request, pk: int, action: str):
    if action not in services.TRANSITIONS:
        raise Http404("No such action.")
    if not permissions.is_dpo(request.user):
        raise PermissionDenied
    group = permissions.get_group_for_user(request.user, pk)
    form = TransitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        changed = call_service(
            form,
            services.chatgroup_transition,
            group=group,
            action=action,
            by=request.user,
            reason=form.cleaned_data["reason"],
        )
        if changed:
            messages.success(request, f"“{changed.name}” is now {changed.get_status_display().lower()}.")
            return redirect(changed)
    label, explanation = ACTION_LABELS[action]
    allowed = action in services.allowed_actions(group)
    return render(
        request,
        "groups/transition.html",
        {
            "group": group,
            "form": form,
            "action": action,
            "label": label,
            "explanation": explanation,
            "allowed": allowed,
            "past": services.PAST_TENSE[action],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_add(request, pk: int):
    """Add people: ticked in the staff search or pasted as a list, in one round trip (issue 15).

    A POST naming one `user` (an older page, a script) adds that one person."""
    group = permissions.get_group_for_manage(request.user, pk)
    search_form = StaffSearchForm(request.GET or None)
    results = []
    if search_form.is_valid():
        results = list(selectors.staff_search(group=group, search=search_form.cleaned_data["q"]))
    one = request.method == "POST" and "user" in request.POST
    form = UserChoiceForm(request.POST if one else None)
    if one and form.is_valid():
        membership = call_service(
            form, services.membership_add, group=group, user=form.cleaned_data["user"], by=request.user
        )
        if isinstance(membership, PendingMembership):
            messages.success(request, _PENDING.format(names=display_name(membership.user), group=group.name))
            return redirect(group)
        if membership:
            messages.success(request, f"{display_name(membership.user)} has been added to {group.name}.")
            return redirect(group)
    bulk_form = BulkAddForm(request.POST if request.method == "POST" and not one else None)
    if bulk_form.is_bound and bulk_form.is_valid():
        found = selectors.staff_lookup(entries=bulk_form.cleaned_data["pasted"])
        people = [*bulk_form.cleaned_data["people"], *found.people]
        result = call_service(bulk_form, services.memberships_add_many, group=group, users=people, by=request.user)
        if result is not None:
            _report_added(request, group, result, found)
            if result.added or result.pending:
                return redirect(group)
    # The people ticked stay ticked when the page comes back with a problem.
    ticked = {str(v) for v in (bulk_form["people"].value() or [])} if bulk_form.is_bound else set()
    return render(
        request,
        "groups/member_add.html",
        {
            "group": group,
            "search_form": search_form,
            "results": results,
            "form": form if one else bulk_form,
            "bulk_form": bulk_form,
            "ticked": ticked,
        },
    )


# POLICY_ACK_BEFORE_JOINING: the add waits for the person's acknowledgement of the policy.
_PENDING = (
    "Pending acknowledgement: {names} will join {group} once they have acknowledged the current policy "
    "(they have been asked on their home page)."
)


def _names(users) -> str:
    return get_text_list([display_name(u) for u in users], "and")


def _report_added(request, group: ChatGroup, result: services.MembersAdded, found: selectors.StaffLookup) -> None:
    """Who was added, who was already in, who is disabled, and what matched nobody."""
    if result.added:
        messages.success(request, f"Added to {group.name} ({len(result.added)}): {_names(result.added)}.")
    if result.pending:
        messages.success(request, _PENDING.format(names=_names(result.pending), group=group.name))
    elif not result.added:
        messages.info(request, "Nobody new was added.")
    if result.already:
        messages.info(request, f"Already members: {_names(result.already)}.")
    if result.disabled:
        messages.warning(request, f"Not added, their accounts are disabled: {_names(result.disabled)}.")
    if found.not_found:
        messages.warning(
            request,
            f"Not found: {', '.join(found.not_found)}. Check the spelling, or search by name.",
        )
    if found.ambiguous:
        messages.warning(
            request,
            f"Several accounts share {', '.join(found.ambiguous)}: paste their usernames instead.",
        )


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request, pk: int, membership_pk: int):
    group = permissions.get_group_for_manage(request.user, pk)
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=membership_pk, group=group)
    form = forms.Form({})  # carries the service's refusal to the page
    form.is_valid()
    if request.method == "POST":
        removed = call_service(form, services.membership_remove, membership=membership, by=request.user)
        if removed:
            messages.success(request, f"{display_name(removed.user)} has been removed from {group.name}.")
            return redirect(group)
    return render(request, "groups/member_remove.html", {"group": group, "membership": membership, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def roles(request, pk: int):
    """Hand over the admin role and name or clear the deputy. The admin or the DPO, not the deputy."""
    group = permissions.get_group_for_roles(request.user, pk)
    members = selectors.group_members(group=group, include_past=False)
    # A disabled account cannot sign in to prompt or attest: it is never offered.
    member_users = get_user_model().objects.filter(pk__in=members.values("user_id"), is_active=True)
    admin_form = UserChoiceForm(prefix="admin", queryset=member_users.exclude(pk=group.admin_id))
    deputy_form = DeputyForm(
        prefix="deputy", queryset=member_users.exclude(pk=group.admin_id), initial={"user": group.deputy_id}
    )
    if request.method == "POST":
        if "admin-user" in request.POST:
            admin_form = UserChoiceForm(request.POST, prefix="admin", queryset=admin_form.fields["user"].queryset)
            if admin_form.is_valid():
                changed = call_service(
                    admin_form,
                    services.chatgroup_set_admin,
                    group=group,
                    user=admin_form.cleaned_data["user"],
                    by=request.user,
                )
                if changed:
                    messages.success(request, f"{display_name(changed.admin)} is now the admin of {group.name}.")
                    return redirect(changed)
        else:
            deputy_form = DeputyForm(request.POST, prefix="deputy", queryset=deputy_form.fields["user"].queryset)
            if deputy_form.is_valid():
                changed = call_service(
                    deputy_form,
                    services.chatgroup_set_deputy,
                    group=group,
                    user=deputy_form.cleaned_data["user"],
                    by=request.user,
                )
                if changed:
                    who = display_name(changed.deputy) if changed.deputy else "Nobody"
                    messages.success(request, f"{who} is now the deputy of {group.name}.")
                    return redirect(changed)
    return render(request, "groups/roles.html", {"group": group, "admin_form": admin_form, "deputy_form": deputy_form})


@login_required
@require_safe
def logo(request, pk: int):
    """A group's uploaded logo, to signed-in staff who may see the group.

    Uploads are never served straight from the media folder: this view always answers
    image/png (every upload was re-encoded to PNG) and never lets the browser guess.
    """
    group = permissions.get_group_for_user(request.user, pk)
    if not group.logo:
        return redirect(static(DEFAULT_LOGO))
    try:
        stored = group.logo.open("rb")
    except OSError:
        # The file has gone from storage (a restore without media, a cleaned disk): the page
        # shows the office logo rather than a broken image, and IT hears about it.
        logger.warning("Logo file %s of group %s is missing; showing the office logo", group.logo.name, group.pk)
        return redirect(static(DEFAULT_LOGO))
    response = FileResponse(stored, content_type="image/png", filename="logo.png")
    response["Content-Disposition"] = 'inline; filename="logo.png"'
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_safe
def history(request, pk: int):
    group = permissions.get_group_for_history(request.user, pk)
    page = Paginator(selectors.group_history(group=group), 50).get_page(request.GET.get("page"))
    return render(request, "groups/history.html", {"group": group, "page": page})
