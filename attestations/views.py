"""Clear-down pages. Thin: check the role and object, validate the form, call one service."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import get_text_list
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from opcc_portal.forms import call_service
from opcc_portal.lib.text import display_name

from . import hold_notices, links, periods, permissions, selectors, services
from .forms import AttestForm, ExcuseForm, HoldForm, LinkAttestForm, ReasonForm, declaration_text
from .models import Obligation


def _names(obligations) -> str:
    """Each clear-down by its group and its dates, a group's weeks together: "Urgent Ops,
    6–13 Nov and 13–20 Nov". Two weeks of one group must read apart."""
    by_group: dict[str, list[str]] = {}
    for o in sorted(obligations, key=lambda o: (o.cycle.group.name, o.cycle.period_start)):
        by_group.setdefault(o.cycle.group.name, []).append(
            periods.period_short(o.cycle.period_start, o.cycle.period_end)
        )
    return "; ".join(f"{name}, {get_text_list(dates, 'and')}" for name, dates in by_group.items())


def _report(request, result: services.AttestResult) -> None:
    on_time = [o for o in result.recorded if o.status != Obligation.Status.LATE]
    if on_time:
        messages.success(request, f"Thank you. {_names(on_time)}: recorded.")
    if result.late:
        thanks = "" if on_time else "Thank you. "
        messages.success(request, f"{thanks}{_names(result.late)}: recorded, marked late (after the deadline).")
    if result.already_done:
        messages.info(request, f"{_names(result.already_done)}: you had already confirmed; nothing new was recorded.")


@login_required
@require_http_methods(["GET", "POST"])
def my_clear_downs(request):
    """Home: every open clear-down of the person; one button confirms them all, and each
    can be confirmed on its own (R6). All or nothing: one refused, none recorded."""
    # The form accepts any of the person's own obligations, so a second submit of one
    # already done reaches the service, which says so instead of a vague "invalid choice".
    form = AttestForm(request.POST or None, obligations=Obligation.objects.filter(user=request.user))
    if request.method == "POST" and form.is_valid():
        result = call_service(
            form,
            services.obligation_attest,
            obligations=form.chosen(),
            user=request.user,
            cleared_on=form.cleaned_data["cleared_on"],
            confirmed_cleared=True,
            confirmed_saved=True,
            channel=Obligation.Channel.WEB,
            where_saved=form.cleaned_data["where_saved"],
        )
        if result:
            _report(request, result)
            return redirect("home")
    now = timezone.now()
    open_obligations = list(selectors.member_open_obligations(user=request.user, now=now))
    form.offer_dates_for(open_obligations)
    for obligation in open_obligations:
        obligation.dates = periods.period_short(obligation.cycle.period_start, obligation.cycle.period_end)
    return render(
        request,
        "attestations/my_clear_downs.html",
        {
            "form": form,
            "open_obligations": open_obligations,
            "declaration": declaration_text(open_obligations),
            "past": list(selectors.member_past_obligations(user=request.user)),
            "holds": hold_notices.member_holds(user=request.user),
            "now": now,
        },
    )


@login_required
@require_safe
def howto(request):
    return render(request, "attestations/howto.html")


def _link_problem(request, problem: str, status: int):
    return render(request, "attestations/link_problem.html", {"problem": problem}, status=status)


@require_http_methods(["GET", "POST"])
def link(request, token: str):
    """The page an emailed link opens. A GET shows it and records nothing (email scanners
    open links); a POST from it records that one clear-down for the link's owner (R6).

    Unless ATTEST_LINK_SIGN_IN_REQUIRED, the signed link is enough for that one action, as
    with e-signature services: no session is made and no other page opens. Someone signed
    in as another person is refused. After recording, it redirects to itself, and the page
    then says what was recorded and when, however often it is opened again.
    """
    if settings.ATTEST_LINK_SIGN_IN_REQUIRED and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        obligation_id, user_id = links.obligation_link_read(token)
    except links.LinkExpired:
        return _link_problem(request, "expired", 410)
    except links.LinkInvalid:
        return _link_problem(request, "invalid", 400)
    signed_in = request.user.is_authenticated
    if signed_in and user_id != request.user.pk:
        return _link_problem(request, "not_yours", 403)
    obligation = (
        Obligation.objects.select_related("cycle__group", "cycle__hold", "user")
        .filter(pk=obligation_id, user_id=user_id)
        .first()
    )
    if obligation is None or not obligation.user.is_active:
        return _link_problem(request, "invalid", 404)
    form = LinkAttestForm(request.POST or None, obligation=obligation)
    if request.method == "POST" and form.is_valid():
        result = call_service(
            form,
            services.obligation_attest,
            obligations=[obligation],
            user=obligation.user,
            cleared_on=form.cleaned_data["cleared_on"],
            confirmed_cleared=True,
            confirmed_saved=True,
            channel=Obligation.Channel.EMAIL if signed_in else Obligation.Channel.EMAIL_ANON,
            where_saved=form.cleaned_data["where_saved"],
        )
        if result:
            return redirect(request.path)
    # A hold on the group stands even for a clear-down it did not mark (R9): the page then
    # says not to clear instead of offering the form.
    hold = None if obligation.is_done else selectors.group_active_hold(group=obligation.cycle.group)
    cycle = obligation.cycle
    return render(
        request,
        "attestations/link_confirm.html",
        {
            "form": form,
            "obligation": obligation,
            "cycle": cycle,
            "dates": periods.period_short(cycle.period_start, cycle.period_end),
            "declaration": declaration_text([obligation]),
            "hold": hold,
            "signed_in": signed_in,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def prompt(request, pk: int):
    """Issue the weekly prompt of a cycle (R5): admin, deputy or DPO."""
    cycle = permissions.get_cycle_for_prompt(request.user, pk)
    try:
        result = services.cycle_prompt(cycle=cycle, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(cycle.group)
    if not result.first:
        messages.info(request, "The prompt for this week was already issued. The message to paste is below.")
    elif result.outstanding:
        messages.success(
            request,
            f"Prompt recorded. {result.outstanding} member{'s' if result.outstanding != 1 else ''} will get an email "
            "with a link. Now paste the message below into the WhatsApp group.",
        )
    else:
        messages.success(request, "Prompt recorded. Everyone has already confirmed, so no emails are sent.")
    return redirect(f"{cycle.group.get_absolute_url()}#cycle-heading")


@login_required
@require_http_methods(["GET", "POST"])
def excuse(request, pk: int):
    """Excuse a member from one cycle (R7): admin, deputy or DPO, with a reason."""
    obligation = permissions.get_obligation_for_excuse(request.user, pk)
    group = obligation.cycle.group
    form = ExcuseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        excused = call_service(
            form, services.obligation_excuse, obligation=obligation, by=request.user, reason=form.cleaned_data["reason"]
        )
        if excused:
            who = display_name(excused.user)
            messages.success(request, f"{who} is excused from this clear-down of {group.name}.")
            return redirect(group)
    return render(
        request,
        "attestations/excuse.html",
        {"form": form, "obligation": obligation, "group": group, "cycle": obligation.cycle},
    )


@login_required
@require_http_methods(["GET", "POST"])
def hold_place(request, pk: int):
    """Place an FOI or legal hold on a group (R9): DPO only."""
    group = permissions.get_group_for_hold(request.user, pk)
    hold = selectors.group_active_hold(group=group)
    form = HoldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        placed = call_service(
            form,
            hold_notices.hold_place,
            group=group,
            by=request.user,
            reference=form.cleaned_data["reference"],
            reason=form.cleaned_data["reason"],
        )
        if placed:
            messages.success(
                request,
                f"{group.name} is on hold ({placed.reference}). Each member is emailed a notice not to clear "
                "it; the group's admin is asked to post the message below in the chat.",
            )
            return redirect(f"{group.get_absolute_url()}#hold-chat-heading")
    return render(
        request,
        "attestations/hold_place.html",
        {
            "form": form,
            "group": group,
            "hold": hold,
            "reminder_hours": settings.HOLD_ACK_REMINDER_HOURS,
            "escalate_hours": settings.HOLD_ACK_ESCALATE_HOURS,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def hold_lift(request, pk: int):
    """Lift a hold (R9): DPO only, with a reason."""
    hold = permissions.get_hold_for_lift(request.user, pk)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        lifted = call_service(
            form, hold_notices.hold_lift, hold=hold, by=request.user, reason=form.cleaned_data["reason"]
        )
        if lifted:
            messages.success(
                request,
                f"The hold {lifted.reference} on {hold.group.name} is lifted. Everyone who had its notice is "
                "emailed that clear-downs resume; post the message below in the chat.",
            )
            return redirect(f"{hold.group.get_absolute_url()}#hold-chat-heading")
    return render(request, "attestations/hold_lift.html", {"form": form, "hold": hold, "group": hold.group})
