"""The pages of a group's periodic review (R16): the admin's one page of answers, the
DPO's sign-off or send-back, the DPO's board of reviews and a group's review interval."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from groups import permissions as group_permissions
from groups import selectors as group_selectors
from groups import services as group_services
from groups.models import GroupReview
from opcc_portal.forms import call_service

from . import reviews
from .forms_reviews import ReviewAnswerForm, ReviewIntervalForm, ReviewSendBackForm


def _review_for_reader(user, pk: int) -> GroupReview:
    review = get_object_or_404(
        GroupReview.objects.select_related("group__admin", "group__deputy", "submitted_by", "signed_off_by"), pk=pk
    )
    if not reviews.can_read(user, review.group):
        # Outsiders are not told which reviews exist.
        raise Http404("No such review.")
    return review


@login_required
@require_http_methods(["GET", "POST"])
def review_answer(request, pk: int):
    """The admin's (or deputy's) answers to the group's open review: one page, one submit."""
    group = group_permissions.get_group_for_user(request.user, pk)
    if not reviews.can_answer(request.user, group):
        raise PermissionDenied
    review = reviews.review_open(group=group)
    members = list(group_selectors.group_members(group=group, include_past=False).select_related("user"))
    form = ReviewAnswerForm(request.POST or None, group=group, members=members)
    if review is not None and review.status == GroupReview.Status.DUE and request.method == "POST" and form.is_valid():
        done = call_service(
            form,
            reviews.review_submit,
            review=review,
            by=request.user,
            purpose=form.cleaned_data["purpose"],
            purpose_confirmed=form.cleaned_data["purpose_confirmed"],
            official_only=form.cleaned_data["official_only"],
            settings_confirmed=form.cleaned_data["settings_confirmed"],
            keep=form.keep(),
        )
        if done:
            removed = sum(1 for keep in form.keep().values() if not keep)
            messages.success(
                request,
                f"Thank you. The review of {group.name} is with the DPO to sign off."
                + (f" {removed} member{'s' if removed != 1 else ''} removed." if removed else ""),
            )
            return redirect(group.get_absolute_url())
    return render(
        request,
        "attestations/review_answer.html",
        {
            "group": group,
            "review": review,
            "form": form,
            "now": timezone.now(),
            "interval": group_services.review_interval(group),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def review_decide(request, pk: int):
    """One review with its answers. The DPO signs it off or sends it back; the admin and
    auditors read it."""
    review = _review_for_reader(request.user, pk)
    form = ReviewSendBackForm(request.POST or None)
    if request.method == "POST":
        if not reviews.can_decide(request.user):
            raise PermissionDenied
        if request.POST.get("decision") == "sign_off":
            form = ReviewSendBackForm()
            if call_service(form, reviews.review_sign_off, review=review, by=request.user):
                messages.success(
                    request, f"The review of {review.group.name} is signed off. The next one is scheduled."
                )
                return redirect("attestations:reviews")
        elif form.is_valid() and call_service(
            form, reviews.review_send_back, review=review, by=request.user, reason=form.cleaned_data["reason"]
        ):
            messages.success(
                request, f"The review of {review.group.name} is sent back. Its admin is emailed your reason."
            )
            return redirect("attestations:reviews")
    return render(
        request,
        "attestations/review_decide.html",
        {
            "review": review,
            "group": review.group,
            "answers": reviews.review_answers(review=review),
            "form": form,
            "can_decide": reviews.can_decide(request.user) and review.status == GroupReview.Status.SUBMITTED,
            "interval_form": ReviewIntervalForm(initial={"months": review.group.review_months}),
        },
    )


@login_required
@require_safe
def review_board(request):
    """The DPO's (and auditors') board: reviews waiting for sign-off, overdue, and overdue
    by a further interval ("review overdue: suspend?")."""
    if not (group_permissions.is_dpo(request.user) or group_permissions.is_auditor(request.user)):
        raise PermissionDenied
    board = reviews.review_board(now=timezone.now())
    return render(
        request, "attestations/reviews.html", {"board": board, "is_dpo": group_permissions.is_dpo(request.user)}
    )


@login_required
@require_POST
def review_interval(request, pk: int):
    """The DPO sets how often one group is reviewed."""
    if not reviews.can_decide(request.user):
        raise PermissionDenied
    group = group_permissions.get_group_for_user(request.user, pk)
    form = ReviewIntervalForm(request.POST)
    if form.is_valid() and call_service(
        form, reviews.review_interval_set, group=group, by=request.user, months=form.cleaned_data["months"]
    ):
        months = form.cleaned_data["months"]
        messages.success(
            request,
            f"{group.name} is reviewed every {months} months."
            if months
            else f"{group.name} is reviewed at the default interval.",
        )
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect(group.get_absolute_url())
