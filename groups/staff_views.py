"""The DPO's staff pages (R14). Thin: check the role, validate the form, call one service."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from opcc_portal.forms import call_service
from opcc_portal.lib.text import display_name

from . import permissions, staff, staff_import, staff_selectors
from .staff_forms import ImportConfirmForm, ImportUploadForm, ReasonForm, RoleForm
from .validators import clean_text

User = get_user_model()

IMPORT_SALT = "groups.staff_import"
IMPORT_MAX_AGE = 60 * 60  # a preview left open longer is uploaded again


def dpo_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not permissions.can_manage_staff(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _person(pk: int):
    # IT's superusers are break-glass accounts, managed in the Django admin only.
    return get_object_or_404(User.objects.select_related("staff_profile"), pk=pk, is_superuser=False)


@dpo_required
@require_safe
def staff_list(request):
    search = request.GET.get("q", "")[:100].replace("\x00", "")
    status = request.GET.get("status", "")
    people = staff_selectors.with_roles_and_groups(staff_selectors.staff_list(search=search, status=status))
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "staff/list.html",
        {
            "page": page,
            "search": search,
            "status": status if status in staff_selectors.STATUSES else "",
            "statuses": staff_selectors.STATUSES.items(),
            "vacancies": list(staff_selectors.groups_without_admin()[:100]),
        },
    )


@dpo_required
@require_safe
def person(request, pk: int):
    user = _person(pk)
    people = staff_selectors.with_roles_and_groups(User.objects.filter(pk=user.pk).select_related("staff_profile"))
    user = people.get()
    return render(
        request,
        "staff/person.html",
        {
            "person": user,
            "profile": getattr(user, "staff_profile", None),
            "admin_of": list(user.administered_groups.exclude(status="retired").order_by("name")),
            "role_changes": staff_selectors.role_changes(user=user, limit=20),
            "account_history": staff_selectors.account_history(user=user),
        },
    )


def _account_action(request, pk: int, *, closing: bool):
    user = _person(pk)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"]
        if closing:
            result = call_service(form, staff.user_deactivate, user=user, by=request.user, reason=reason)
            if result:
                text = f"{display_name(user)}'s account is closed; they left {result.memberships_ended} group(s)."
                if result.groups_without_admin:
                    names = ", ".join(g.name for g in result.groups_without_admin)
                    text += f" Name a new admin for: {names}."
                messages.success(request, text)
                return redirect("staff:person", pk=user.pk)
        elif call_service(form, staff.user_reactivate, user=user, by=request.user, reason=reason):
            messages.success(
                request, f"{display_name(user)}'s account is open again. Add them to the groups they work in now."
            )
            return redirect("staff:person", pk=user.pk)
    return render(request, "staff/account_action.html", {"person": user, "form": form, "closing": closing})


@dpo_required
@require_http_methods(["GET", "POST"])
def deactivate(request, pk: int):
    return _account_action(request, pk, closing=True)


@dpo_required
@require_http_methods(["GET", "POST"])
def reactivate(request, pk: int):
    return _account_action(request, pk, closing=False)


@dpo_required
@require_http_methods(["GET", "POST"])
def roles(request):
    initial = {key: request.GET.get(key, "")[:254] for key in ("person", "role", "action")}
    form = RoleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        service = staff.role_grant if data["action"] == "grant" else staff.role_remove
        change = call_service(
            form, service, user=data["person"], role=data["role"], by=request.user, reason=data["reason"]
        )
        if change:
            verb = "now has" if data["action"] == "grant" else "no longer has"
            messages.success(request, f"{display_name(data['person'])} {verb} the {change.role} role.")
            return redirect("staff:roles")
    return render(
        request,
        "staff/roles.html",
        {"form": form, "holders": staff_selectors.role_holders(), "changes": staff_selectors.role_changes()},
    )


@dpo_required
@require_http_methods(["GET", "POST"])
def import_staff(request):
    upload = ImportUploadForm()
    context = {"upload": upload}
    if request.method == "POST" and "payload" in request.POST:
        return _import_confirm(request, context)
    if request.method == "POST":
        upload = ImportUploadForm(request.POST, request.FILES)
        context["upload"] = upload
        if upload.is_valid():
            data = upload.cleaned_data["file"].read()
            name = clean_text(upload.cleaned_data["file"].name, one_line=True)[:100] or "staff.csv"
            try:
                plan = staff_import.import_plan(data)
            except ValidationError as exc:
                upload.add_error("file", exc)
            else:
                context.update(plan=plan, name=name)
                if plan.ok:
                    payload = signing.dumps({"csv": data.decode("utf-8-sig")}, salt=IMPORT_SALT, compress=True)
                    context["confirm"] = ImportConfirmForm(initial={"payload": payload, "name": name})
    return render(request, "staff/import.html", context)


def _import_confirm(request, context: dict):
    confirm = ImportConfirmForm(request.POST)
    if not confirm.is_valid():
        messages.error(request, "The preview was incomplete. Upload the file again.")
        return redirect("staff:import")
    try:
        text = signing.loads(confirm.cleaned_data["payload"], salt=IMPORT_SALT, max_age=IMPORT_MAX_AGE)["csv"]
    except (signing.BadSignature, KeyError, TypeError):
        messages.error(request, "The preview has expired or was changed. Upload the file again; nothing was imported.")
        return redirect("staff:import")
    name = clean_text(confirm.cleaned_data["name"], one_line=True)[:100]
    try:
        plan = staff_import.import_apply(data=text.encode("utf-8"), by=request.user, source=name)
    except staff_import.ImportRefused as refused:
        context.update(plan=refused.plan, name=name, refused=True)
        return render(request, "staff/import.html", context)
    except ValidationError as exc:
        messages.error(request, f"Nothing was imported: {' '.join(exc.messages)}")
        return redirect("staff:import")
    summary = ", ".join(f"{n} {label.lower()}" for _, label, n in plan.counts if n)
    messages.success(request, f"The staff list “{name}” was imported: {summary}.")
    return redirect(reverse("staff:list"))
