"""Audit pages: history browser, exports, export log, FOI evidence pack, ledger check,
the retention schedule with what was disposed of.

For the DPO and auditors only; everyone else gets 403 and the anonymous go to sign in.
Nothing here writes to the record, so every request other than GET or HEAD is refused
(auditors change nothing). The only rows written are the export log's.
"""

from __future__ import annotations

import functools
import io
import itertools
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from groups import permissions as group_permissions
from groups.models import ChatGroup
from opcc_portal.forms import DayField, LongSelect, bad_filters_response
from opcc_portal.lib import keyset

from .. import ledger, periods, retention, selectors
from ..models import ExportLog
from . import exports, foi_forms
from . import history as audit

PAGE_SIZE = 50


def can_audit(user) -> bool:
    return user.is_authenticated and user.has_perm("groups.view_register_history")


def audit_view(view):
    """Signed in, DPO or auditor, read-only."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_audit(request.user):
            raise PermissionDenied("The audit pages are for the DPO and auditors.")
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("The audit pages change nothing.")
        return view(request, *args, **kwargs)

    return wrapper


# --- Filter forms ---------------------------------------------------------------------------


class RangeForm(forms.Form):
    group = forms.ModelChoiceField(
        queryset=ChatGroup.objects.order_by("name", "pk").only("pk", "name"),
        required=False,
        empty_label="All groups",
        label="Group",
        widget=LongSelect,
    )

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        # "from" is a Python keyword: the date fields are named here rather than declared.
        date_input = forms.DateInput(attrs={"type": "date"})
        self.fields["from"] = DayField(label="From", required=False, widget=date_input)
        self.fields["to"] = DayField(label="To", required=False, widget=date_input)
        self.order_fields(["group", "from", "to"])
        self.style()

    def style(self) -> None:
        for bound in self:
            widget = bound.field.widget
            widget.attrs["class"] = "form-select" if isinstance(widget, forms.Select) else "form-control"
            if self.is_bound and bound.errors:
                widget.attrs["aria-invalid"] = "true"

    def clean(self):
        data = super().clean()
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            raise forms.ValidationError("“From” must be on or before “To”.")
        return data

    def filters(self) -> audit.Filters:
        data = self.cleaned_data if self.is_valid() else {}
        group = data.get("group")
        return audit.Filters(start=data.get("from"), end=data.get("to"), group_id=group.pk if group else None)


class HistoryForm(RangeForm):
    kind = forms.ChoiceField(
        choices=[("", "Everything")] + [(k.key, k.label) for k in audit.HISTORY_KINDS.values()],
        required=False,
        label="Kind of record",
    )
    object = forms.IntegerField(required=False, min_value=1, label="Record number", help_text="Optional.")
    by = forms.CharField(required=False, max_length=150, label="Changed by", help_text="Username or name.")

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.order_fields(["kind", "group", "object", "by", "from", "to"])
        self.style()

    def filters(self) -> audit.HistoryFilters:
        base = super().filters()
        data = self.cleaned_data if self.is_valid() else {}
        return audit.HistoryFilters(
            start=base.start,
            end=base.end,
            group_id=base.group_id,
            kind=data.get("kind") or "",
            object_id=data.get("object"),
            changed_by=data.get("by") or "",
        )


# --- History -------------------------------------------------------------------------------


@audit_view
def history(request):
    form = HistoryForm(request.GET or None)
    filters = form.filters()
    bad_position = ""
    try:
        cursor, older = keyset.requested(request.GET, labels=list(audit.HISTORY_KINDS))
    except keyset.BadCursor as exc:
        cursor, older, bad_position = None, True, str(exc)
    page = audit.history_page(filters=filters, cursor=cursor, older=older, size=PAGE_SIZE)
    context = {
        "form": form,
        "page": page,
        "bad_position": bad_position,
        "page_size": PAGE_SIZE,
        "section": "history",
        # The auditor's (or DPO's) own duties as a member, on the page they land on (R12).
        "own_open": list(selectors.member_open_obligations(user=request.user)),
    }
    # A position that does not parse: the newest page, with the error, as a 400.
    return render(request, "audit/history.html", context, status=400 if bad_position else 200)


# --- Exports -------------------------------------------------------------------------------


def _query(filters: audit.Filters) -> str:
    params = {k: v for k, v in filters.as_dict().items() if v}
    return urlencode(params)


@audit_view
def export_index(request):
    form = RangeForm(request.GET or None)
    query = _query(form.filters())
    specs = [
        {
            "spec": spec,
            "csv": reverse("audit:export", args=[spec.key, "csv"]) + (f"?{query}" if query else ""),
            "xlsx": reverse("audit:export", args=[spec.key, "xlsx"]) + (f"?{query}" if query else ""),
        }
        for spec in audit.EXPORTS.values()
    ]
    return render(request, "audit/exports.html", {"form": form, "specs": specs, "section": "exports"})


@audit_view
def export(request, kind: str, fmt: str):
    spec = audit.EXPORTS.get(kind)
    if spec is None or fmt not in (ExportLog.Format.CSV, ExportLog.Format.XLSX):
        raise Http404("No such export.")
    form = RangeForm(request.GET or None)
    if request.GET and not form.is_valid():
        return bad_filters_response(form)
    filters = form.filters()
    log = exports.export_log_start(user=request.user, kind=kind, fmt=fmt, filters=filters)
    stamp = timezone.now().astimezone(periods.LONDON).strftime("%Y%m%d-%H%M%S")
    filename = f"{kind}-{stamp}.{fmt}"
    log_url = reverse("audit:export_detail", args=[log.pk])
    if fmt == "csv":
        response = StreamingHttpResponse(
            exports.csv_export(spec=spec, filters=filters, log=log),
            content_type="text/csv; charset=utf-8",
        )
        # The hash of a streamed body is known only after its last byte: it goes to the
        # export log, which these headers point at (see README, "Audit").
        response["X-Export-Log"] = str(log.pk)
        response["Link"] = f'<{log_url}>; rel="describedby"'
    else:
        pieces = exports.xlsx_export(spec=spec, filters=filters, log=log)
        head, ended = exports.xlsx_head(pieces, spec=spec, filters=filters)
        if ended:
            # Small enough to be made whole at once: its hash goes in the headers too.
            response = FileResponse(io.BytesIO(b"".join(head)), content_type=exports.XLSX_CONTENT_TYPE)
            response["Digest"] = exports.digest_header(log.sha256)
            response["X-Content-SHA256"] = log.sha256
        else:
            # Sent as it is made, as CSV is: the hash is in the export log when the last byte has gone.
            response = StreamingHttpResponse(
                itertools.chain(head, (piece for piece, _ in pieces)), content_type=exports.XLSX_CONTENT_TYPE
            )
            response["Link"] = f'<{log_url}>; rel="describedby"'
        response["X-Export-Log"] = str(log.pk)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _log_for(request, pk: int) -> ExportLog:
    """The DPO sees every export; an auditor sees their own."""
    log = get_object_or_404(ExportLog.objects.select_related("user"), pk=pk)
    if not group_permissions.is_dpo(request.user) and log.user_id != request.user.pk:
        raise Http404("No such export.")
    return log


@audit_view
def export_log(request):
    everyone = group_permissions.is_dpo(request.user)
    logs = exports.export_logs(user=None if everyone else request.user)
    page = Paginator(logs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/export_log.html", {"page": page, "everyone": everyone, "section": "log"})


@audit_view
def export_detail(request, pk: int):
    log = _log_for(request, pk)
    return render(request, "audit/export_detail.html", {"log": log, "section": "log"})


@audit_view
def export_sha256(request, pk: int):
    """The file's SHA-256 as plain text, for scripts; 409 while the download is unfinished."""
    log = _log_for(request, pk)
    if not log.sha256:
        return HttpResponse("unfinished\n", status=409, content_type="text/plain")
    return HttpResponse(f"{log.sha256}\n", content_type="text/plain")


# --- FOI evidence pack ------------------------------------------------------------------------


@audit_view
def foi_pack(request):
    form = RangeForm(request.GET or None)
    pack = None
    filters = form.filters()
    if form.is_valid() and filters.group_id:
        pack = audit.foi_pack(group_id=filters.group_id, filters=filters)
    # What may still exist of those days, and the hold and record made from it (foi.py).
    return render(
        request,
        "audit/foi_pack.html",
        {
            "form": form,
            "pack": pack,
            "generated_at": timezone.now(),
            "grace_hours": settings.CLEAR_DOWN_GRACE_HOURS,
            "section": "foi",
            # What may still exist of those days, and the hold and record made from it (foi.py).
            **(foi_forms.exist_context(request) if pack else {}),
        },
    )


# --- Ledger ------------------------------------------------------------------------------------


@audit_view
def ledger_check(request):
    verdict = ledger.ledger_verify() if request.GET.get("verify") else None
    return render(
        request,
        "audit/ledger.html",
        {"verdict": verdict, "entries": ledger.ledger_size(), "section": "ledger"},
    )


# --- Retention ---------------------------------------------------------------------------------


@audit_view
def retention_schedule(request):
    """The schedule, what a run now would dispose of (and what holds keep), and the records of runs."""
    return render(
        request,
        "audit/retention.html",
        {
            "plan": retention.retention_plan(now=timezone.now()),
            "records": retention.disposal_records(),
            "checkpoints": ledger.ledger_size()["checkpoints"],
            "dispose": settings.RETENTION_DISPOSE,
            "batch_size": settings.RETENTION_BATCH_SIZE,
            "section": "retention",
        },
    )
