"""The policy's pages (R15). Thin: check the role and the object, validate, call one service.

All staff read the published versions and acknowledge the current one; the DPO drafts,
changes drafts, publishes and deletes drafts; auditors read drafts too, and change nothing.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from opcc_portal.forms import call_service
from opcc_portal.lib.text import display_name

from . import permissions, policy, policy_selectors
from .policy_forms import PolicyVersionForm
from .policy_models import PendingMembership, PolicyVersion

logger = logging.getLogger(__name__)


def _version_for(user, pk: int) -> PolicyVersion:
    """A published version for any member of staff; a draft only for the DPO and auditors
    (to anyone else a draft does not exist)."""
    version = get_object_or_404(PolicyVersion.objects.select_related("published_by", "created_by"), pk=pk)
    if not version.is_published and not (permissions.is_dpo(user) or permissions.is_auditor(user)):
        raise Http404("No such version.")
    return version


def _dpo_only(user) -> None:
    if not permissions.is_dpo(user):
        raise PermissionDenied


@login_required
@require_safe
def versions(request):
    now = timezone.now()
    return render(
        request,
        "policy/versions.html",
        {
            "versions": list(policy_selectors.policy_versions(user=request.user)),
            "current": policy_selectors.policy_current(now=now),
            "due": policy_selectors.policy_ack_due(user=request.user, now=now),
            "is_dpo": permissions.is_dpo(request.user),
            "today": timezone.localdate(now),
        },
    )


@login_required
@require_safe
def detail(request, pk: int):
    version = _version_for(request.user, pk)
    now = timezone.now()
    current = policy_selectors.policy_current(now=now)
    return render(
        request,
        "policy/detail.html",
        {
            "version": version,
            "is_current": current is not None and current.pk == version.pk,
            "current": current,
            "acknowledged": policy_selectors.policy_ack_of(user=request.user, version=version),
            "is_dpo": permissions.is_dpo(request.user),
        },
    )


@login_required
@require_safe
def pdf(request, pk: int):
    """The version's PDF, always as application/pdf and never guessed by the browser."""
    version = _version_for(request.user, pk)
    if not version.pdf:
        raise Http404("This version has no PDF.")
    try:
        stored = version.pdf.open("rb")
    except OSError:
        logger.warning("PDF %s of policy version %s is missing", version.pdf.name, version.pk)
        raise Http404("The PDF file is missing. Tell the DPO.") from None
    filename = f"whatsapp-policy-v{version.number}.pdf".replace(" ", "-")
    response = FileResponse(stored, content_type="application/pdf", filename=filename)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _draft(form) -> policy.PolicyDraft:
    data = form.cleaned_data
    return policy.PolicyDraft(
        title=data["title"],
        number=data["number"],
        effective_on=data["effective_on"],
        changes=data["changes"],
        text=data["text"],
        pdf=data.get("pdf"),
        remove_pdf=data.get("remove_pdf", False),
    )


@login_required
@require_http_methods(["GET", "POST"])
def new(request):
    _dpo_only(request.user)
    form = PolicyVersionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        version = call_service(form, policy.policy_version_draft, draft=_draft(form), by=request.user)
        if version:
            messages.success(request, f"Version {version.number} is saved as a draft. Check it, then publish it.")
            return redirect("policy:detail", version.pk)
    return render(request, "policy/edit.html", {"form": form, "version": None})


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    _dpo_only(request.user)
    version = _version_for(request.user, pk)
    if version.is_published:
        messages.info(request, policy.PUBLISHED.format(number=version.number))
        return redirect("policy:detail", version.pk)
    initial = {f: getattr(version, f) for f in ("title", "number", "effective_on", "changes", "text")}
    form = PolicyVersionForm(request.POST or None, request.FILES or None, initial=initial, has_pdf=bool(version.pdf))
    if request.method == "POST" and form.is_valid():
        updated = call_service(form, policy.policy_version_update, version=version, draft=_draft(form), by=request.user)
        if updated:
            messages.success(request, f"The draft of version {updated.number} is saved.")
            return redirect("policy:detail", updated.pk)
    return render(request, "policy/edit.html", {"form": form, "version": version})


def _refused(request, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


@login_required
@require_POST
def publish(request, pk: int):
    _dpo_only(request.user)
    version = _version_for(request.user, pk)
    try:
        policy.policy_version_publish(version=version, by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            f"Version {version.number} is published. From {version.effective_on:%-d %B %Y} everyone in an "
            "approved group is asked to acknowledge it; the dashboard shows who has.",
        )
    return redirect("policy:detail", version.pk)


@login_required
@require_POST
def delete(request, pk: int):
    _dpo_only(request.user)
    version = _version_for(request.user, pk)
    try:
        policy.policy_version_delete_draft(version=version, by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("policy:detail", version.pk)
    messages.success(request, f"The draft of version {version.number} is deleted.")
    return redirect("policy:versions")


@login_required
@require_POST
def acknowledge(request, pk: int):
    """One tap: "I have read and will follow version N". A second tap says it was done."""
    version = _version_for(request.user, pk)
    try:
        result = policy.policy_acknowledge(version=version, user=request.user)
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("policy:versions")
    when = timezone.localtime(result.ack.acknowledged_at)
    if result.already:
        messages.info(request, f"You had already acknowledged version {version.number}, on {when:%-d %B %Y}.")
    else:
        messages.success(request, f"Thank you: you acknowledged version {version.number} of the WhatsApp policy.")
    if result.joined:
        names = ", ".join(group.name for group in result.joined)
        messages.info(request, f"You have now joined: {names}. Your clear-downs there count from today.")
    return redirect("home")


@login_required
@require_POST
def pending_withdraw(request, pk: int):
    pending = get_object_or_404(PendingMembership.objects.select_related("group", "user"), pk=pk)
    group = permissions.get_group_for_manage(request.user, pending.group_id)
    try:
        policy.pending_membership_withdraw(pending=pending, by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"The add of {display_name(pending.user)} to {group.name} is withdrawn.")
    return redirect(group)
