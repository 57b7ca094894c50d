"""Answering requests: the FOI "what may still exist" record and hold, and subject access.

- The FOI answer is shown on the FOI evidence pack (`views.foi_pack`); here are its printable
  record and CSV (the DPO and auditors: reading and exporting the record is an auditor's work
  too) and the hold placed from it (the DPO only, through the portal's hold service).
- Subject access (UK GDPR Art. 15) is the DPO's alone: answering a person's request is the
  controller's duty the DPO carries out, and the file gathers one person's whole record.
  Auditors read and export the record by kind on the other audit pages.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from groups import permissions as group_permissions
from opcc_portal.forms import bad_filters_response, call_service
from opcc_portal.lib.text import display_name

from .. import hold_notices, periods, permissions
from ..models import ExportLog
from . import foi, foi_forms, subject_access
from .exports import csv_stream
from .views import audit_view

FOI_EXPORT_KIND = "foi-what-may-exist"


def _pack_url(group_id: int, start, end) -> str:
    query = f"group={group_id}"
    if start and end:
        query += f"&from={start.isoformat()}&to={end.isoformat()}"
    return f"{reverse('audit:foi_pack')}?{query}#what-may-exist"


@audit_view
def foi_exist_record(request):
    """The printable record of what may still exist, and of the request it answers."""
    form = foi_forms.RequestRecordForm(request.GET or None)
    answer = None
    if form.is_valid():
        c = form.cleaned_data
        answer = foi.what_may_exist(group_id=c["group"].pk, start=c["from"], end=c["to"])
    return render(
        request,
        "audit/foi_exist_record.html",
        {"form": form, "answer": answer, "made_by": display_name(request.user), "section": "foi"},
    )


@audit_view
def foi_exist_csv(request):
    """The answer as CSV, logged in the export log with the request's details."""
    form = foi_forms.RequestRecordForm(request.GET)
    if not form.is_valid():
        return bad_filters_response(form)
    filters = form.request_filters()
    answer = foi.what_may_exist(group_id=filters.group_id, start=filters.start, end=filters.end)
    log = ExportLog.objects.create(
        user=request.user, kind=FOI_EXPORT_KIND, format=ExportLog.Format.CSV, filters=filters.as_dict(),
        started_at=answer.made_at,
    )  # fmt: skip
    response = StreamingHttpResponse(
        csv_stream(headers=foi.HEADERS, batches=foi.rows(answer=answer, request=filters), log=log),
        content_type="text/csv; charset=utf-8",
    )
    stamp = answer.made_at.astimezone(periods.LONDON).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="what-may-exist-{stamp}.csv"'
    response["X-Export-Log"] = str(log.pk)
    response["Link"] = f'<{reverse("audit:export_detail", args=[log.pk])}>; rel="describedby"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def foi_hold(request):
    """Place a hold from the FOI page: the portal's hold service, its errors shown again."""
    if not permissions.can_hold(request.user):
        raise PermissionDenied("Only the DPO places holds.")
    form = foi_forms.RequestHoldForm(request.POST)
    if form.is_valid():
        group = form.cleaned_data["group"]
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
                "it; the group's admin is asked to post the hold message in the chat.",
            )
            return redirect(_pack_url(group.pk, form.cleaned_data["start"], form.cleaned_data["end"]))
    group = form.cleaned_data.get("group") if hasattr(form, "cleaned_data") else None
    back = _pack_url(group.pk, form.cleaned_data.get("start"), form.cleaned_data.get("end")) if group else None
    return render(request, "audit/foi_hold.html", {"form": form, "group": group, "back": back, "section": "foi"})


def _dpo_only(request) -> None:
    if not group_permissions.is_dpo(request.user):
        raise PermissionDenied("Subject access requests are answered by the DPO.")


@audit_view
def subject_access_search(request):
    _dpo_only(request)
    # A NUL cannot be in a name, and PostgreSQL refuses it in a query: it is dropped.
    text = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    people = list(subject_access.people_matching(text)) if text else []
    return render(
        request,
        "audit/subject_access.html",
        {"q": text, "people": people, "kinds": subject_access.KINDS, "section": "sar"},
    )


@audit_view
def subject_access_file(request, pk: int):
    _dpo_only(request)
    person = get_object_or_404(get_user_model(), pk=pk)
    now = timezone.now()
    log = ExportLog.objects.create(
        user=request.user,
        kind=subject_access.EXPORT_KIND,
        format=ExportLog.Format.ZIP,
        filters={"person": person.pk, "username": person.get_username()},
        started_at=now,
    )
    response = StreamingHttpResponse(
        subject_access.subject_access_zip(person=person, made_by=request.user, log=log, now=now),
        content_type="application/zip",
    )
    stamp = now.astimezone(periods.LONDON).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="subject-access-{person.pk}-{stamp}.zip"'
    response["X-Export-Log"] = str(log.pk)
    response["Link"] = f'<{reverse("audit:export_detail", args=[log.pk])}>; rel="describedby"'
    response["Cache-Control"] = "no-store"
    return response
