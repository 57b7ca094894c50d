"""The DPO dashboard and its drill-downs. Thin: check the role and object, call selectors, render.

The DPO and auditors see every group; a group admin (or deputy) sees the groups they run;
anyone else gets 403. A group or person outside the viewer's scope is a 404, so nobody
learns what they may not see. Nothing here writes.
"""

from __future__ import annotations

import csv
import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models.functions import Lower
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from groups import permissions as group_permissions
from groups import selectors as group_selectors
from groups.models import ChatGroup
from opcc_portal.forms import DayField, LongSelect, bad_filters_response
from opcc_portal.lib import keyset
from opcc_portal.lib.text import neutralise

from .. import periods, selectors
from ..forms import is_id
from ..models import SentEmail
from . import charts, exports, stats

PAGE_SIZE = 50
# The dashboard warns the DPO of emails that failed for good this recently.
FAILED_EMAILS_WINDOW = dt.timedelta(days=30)


# --- Who may see what ----------------------------------------------------------------------


def dashboard_scope(request) -> stats.Scope:
    """DPO and auditors: every group. A group's admin or deputy: their groups. Others: 403."""
    user = request.user
    if group_permissions.is_dpo(user) or user.has_perm("groups.view_register_history"):
        return stats.Scope()
    if not group_selectors.user_runs_a_group(user=user):
        raise PermissionDenied("The dashboard is for the DPO, auditors and group admins.")
    return stats.Scope(user_id=user.pk)


def group_in_scope(scope: stats.Scope, pk: int) -> ChatGroup:
    """The group if the viewer's dashboard covers it (404 otherwise: not a hint it exists)."""
    return get_object_or_404(scope.groups().select_related("admin", "deputy"), pk=pk)


# --- Filters -----------------------------------------------------------------------------


class RangeForm(forms.Form):
    """`from` and `to` (UK dates, both included); either may be left out."""

    def __init__(self, data, *, today: dt.date):
        super().__init__(data)
        self.today = today
        # "from" is a Python keyword, so the fields are named here rather than declared.
        self.fields["from"] = DayField(label="From", required=False)
        self.fields["to"] = DayField(label="To", required=False)

    def clean(self):
        cleaned = super().clean()
        default = stats.DateRange.default(today=self.today)
        start, end = cleaned.get("from") or default.first, cleaned.get("to") or default.last
        end = min(end, self.today)
        if start > end:
            raise forms.ValidationError("The start date must be on or before the end date.")
        if (end - start).days > stats.MAX_RANGE_DAYS:
            raise forms.ValidationError("Choose a range of two years or less.")
        cleaned["range"] = stats.DateRange(first=start, last=end)
        return cleaned


def _date_range(request) -> tuple[stats.DateRange, RangeForm]:
    today = timezone.now().astimezone(periods.LONDON).date()
    form = RangeForm(request.GET if ("from" in request.GET or "to" in request.GET) else None, today=today)
    if form.is_bound and form.is_valid():
        return form.cleaned_data["range"], form
    return stats.DateRange.default(today=today), form


def _range_qs(dates: stats.DateRange) -> str:
    return urlencode({"from": dates.first.isoformat(), "to": dates.last.isoformat()})


def _common(request, scope: stats.Scope, dates: stats.DateRange, form: RangeForm, keep=()) -> dict:
    return {
        # Filters other than the dates, carried through the date form.
        "keep": [(name, request.GET[name]) for name in keep if request.GET.get(name)],
        "scope_all": scope.is_all,
        "dates": dates,
        "range_form": form,
        "range_qs": _range_qs(dates),
        "bucket_labels": stats.BUCKET_LABELS,
    }


def _flag(request, name: str) -> bool:
    return request.GET.get(name, "") in {"1", "on", "true", "yes"}


def _table_filters(request) -> dict:
    status = request.GET.get("status", "")
    sort = request.GET.get("sort", "done")
    return {
        "status": status if status in ChatGroup.Status.values else "",
        "attention": _flag(request, "attention"),
        "held": _flag(request, "held"),
        "sort": sort if sort in stats.SORTS else "done",
        "descending": request.GET.get("dir") == "desc",
    }


# --- Pages -------------------------------------------------------------------------------


@login_required
@require_GET
def index(request):
    scope = dashboard_scope(request)
    dates, form = _date_range(request)
    now = timezone.now()
    filters = _table_filters(request)
    # Filtered, sorted and paged in SQL: only the page's rows are built. Unfiltered, the
    # same query sums every row for the headline.
    unfiltered = not (filters["status"] or filters["attention"] or filters["held"])
    page = stats.group_table_page(
        scope=scope,
        dates=dates,
        now=now,
        number=request.GET.get("page"),
        size=PAGE_SIZE,
        with_sums=unfiltered,
        **filters,
    )
    strips = stats.group_strips(group_ids=[row.pk for row in page], dates=dates, now=now)
    for row in page:
        row.strip = strips.get(row.pk, [])
        row.url = reverse("dashboard:group", args=[row.pk])
    weeks = stats.trend(scope=scope, dates=dates, now=now)
    columns = []
    for key, (label, _) in stats.SORTS.items():
        current = key == filters["sort"]
        columns.append(
            {
                "key": key,
                "label": label,
                "aria_sort": ("descending" if filters["descending"] else "ascending") if current else None,
                # A click on the current column turns it round; any other column starts ascending.
                "next_dir": ("asc" if filters["descending"] else "desc") if current else "asc",
            }
        )
    context = {
        **_common(request, scope, dates, form, keep=("status", "attention", "held", "sort", "dir")),
        "headline": stats.headline_of_table(scope=scope, dates=dates, now=now, sums=page.sums),
        "weeks": weeks,
        "latest_week": next((w for w in reversed(weeks) if w.tally.owed), None),
        "page": page,
        "filters": filters,
        "columns": columns,
        "statuses": ChatGroup.Status.choices,
        "now": now,
        # The whole office's emails are the DPO's and auditors' business, not a group admin's.
        "failed_emails": (selectors.sent_emails_failed_since(since=now - FAILED_EMAILS_WINDOW) if scope.is_all else 0),
        "failed_emails_days": FAILED_EMAILS_WINDOW.days,
        # The viewer's own duties as a member, whatever their role (R12).
        "own_open": list(selectors.member_open_obligations(user=request.user, now=now)),
        "cannot_email": selectors.people_who_cannot_be_emailed() if scope.is_all else None,
    }
    return render(request, "dashboard/index.html", context)


@login_required
@require_GET
def trend_svg(request):
    scope = dashboard_scope(request)
    dates, _ = _date_range(request)
    svg = charts.trend_chart_svg(stats.trend(scope=scope, dates=dates))
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, max-age=60"
    return response


class Echo:
    """A file for `csv.writer` that hands each line back, so a CSV streams row by row."""

    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def groups_csv(request):
    scope = dashboard_scope(request)
    dates, form = _date_range(request)
    if form.is_bound and not form.is_valid():
        return bad_filters_response(form)
    rows = exports.group_export_rows(scope=scope, dates=dates, **_table_filters(request))
    writer = csv.writer(Echo())
    response = StreamingHttpResponse(
        (writer.writerow([neutralise(cell) for cell in row]) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="clear-down-groups-{dates.first:%Y%m%d}-{dates.last:%Y%m%d}.csv"'
    )
    return response


@login_required
@require_GET
def group(request, pk: int):
    scope = dashboard_scope(request)
    chat_group = group_in_scope(scope, pk)
    dates, form = _date_range(request)
    now = timezone.now()
    context = {
        **_common(request, scope, dates, form),
        "group": chat_group,
        "drill": stats.group_drilldown(group=chat_group, dates=dates, now=now),
        "emails": list(selectors.group_sent_emails(group=chat_group, since=dates.start)),
        "now": now,
    }
    return render(request, "dashboard/group.html", context)


@login_required
@require_GET
def person(request, pk: int):
    scope = dashboard_scope(request)
    who = stats.person_in_scope(scope=scope, pk=pk)
    if who is None:
        raise Http404("No such person.")
    dates, form = _date_range(request)
    context = {
        **_common(request, scope, dates, form),
        "person": who,
        "record": stats.person_record(person=who, scope=scope, dates=dates),
    }
    return render(request, "dashboard/person.html", context)


@login_required
@require_GET
def obligations(request):
    scope = dashboard_scope(request)
    dates, form = _date_range(request)
    bucket = request.GET.get("bucket", "")
    bucket = bucket if bucket in stats.BUCKETS else ""
    week, filter_errors = None, []
    try:
        week = DayField(required=False).clean(request.GET.get("week", ""))
    except ValidationError as exc:
        filter_errors.append(f"Week: {' '.join(exc.messages)} Showing every week instead.")
    group_id = request.GET.get("group", "")
    chat_group = group_in_scope(scope, int(group_id)) if is_id(group_id) else None
    latest = _flag(request, "latest")
    rows = stats.obligation_rows(
        scope=scope,
        dates=dates,
        bucket=bucket,
        group_id=chat_group.pk if chat_group else None,
        week=week,
        latest=latest,
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for obligation in page:
        stats.mark_bucket(obligation, now=now)
    heading = stats.BUCKET_LABELS[bucket] if bucket else "All clear-downs"
    if latest:
        heading += ", this cycle"
    elif week is not None:
        heading += f", deadlines in the week from {week:%-d %b %Y}"
    if chat_group is not None:
        heading += f": {chat_group.name}"
    context = {
        **_common(request, scope, dates, form, keep=("bucket", "week", "group", "latest")),
        "heading": heading,
        "page": page,
        "bucket": bucket,
        "week": week,
        "latest": latest,
        "group": chat_group,
        "filter_errors": filter_errors,
    }
    return render(request, "dashboard/obligations.html", context)


FLAG_TITLES = {
    "open": "Open flags",
    "open_overdue": "Open flags: clear-downs overdue",
    "open_prompt": "Open flags: prompts not issued",
    "prompts_missed": "Prompts missed",
    "open_duties": "Open flags: group reviews and hold timers",
}


@login_required
@require_GET
def flags(request):
    scope = dashboard_scope(request)
    dates, form = _date_range(request)
    which = request.GET.get("which", "open")
    which = which if which in stats.FLAG_FILTERS else "open"
    page = Paginator(stats.flag_rows(scope=scope, dates=dates, which=which), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        **_common(request, scope, dates, form, keep=("which",)),
        "page": page,
        "which": which,
        "title": FLAG_TITLES[which],
    }
    return render(request, "dashboard/flags.html", context)


@login_required
@require_GET
def people(request):
    scope = dashboard_scope(request)
    dates, form = _date_range(request)
    # NUL characters cannot be stored or searched for in PostgreSQL; nobody types them.
    search = request.GET.get("q", "")[:100].replace("\x00", "")
    page = Paginator(stats.people_rows(scope=scope, search=search), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {**_common(request, scope, dates, form, keep=("q",)), "page": page, "search": search}
    return render(request, "dashboard/people.html", context)


class EmailFilterForm(forms.Form):
    """Status, kind and group of the emails page. A value not offered is a form error."""

    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *SentEmail.Status.choices])
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "Any kind"), *SentEmail.Kind.choices])
    group = forms.TypedChoiceField(label="Group", required=False, coerce=int, empty_value=None, widget=LongSelect)

    def __init__(self, data):
        super().__init__(data)
        groups = list(ChatGroup.objects.order_by(Lower("name"), "pk").values_list("pk", "name"))
        self.group_names = dict(groups)
        self.fields["group"].choices = [("", "Any group"), *((str(pk), name) for pk, name in groups)]
        for bound in self:
            bound.field.widget.attrs["class"] = "form-select"
            if bound.errors:
                bound.field.widget.attrs["aria-invalid"] = "true"
                bound.field.widget.attrs["aria-describedby"] = f"{bound.auto_id}-error"

    def filters(self) -> dict:
        """The filters that are valid; one that is not is left out (and shown as an error)."""
        self.is_valid()
        data = self.cleaned_data
        return {"status": data.get("status") or "", "kind": data.get("kind") or "", "group_id": data.get("group")}


@login_required
@require_GET
def emails(request):
    """Every email the portal recorded, newest first: who, what, when and the result (R8)."""
    scope = dashboard_scope(request)
    if not scope.is_all:
        raise PermissionDenied("The emails page is for the DPO and auditors.")
    dates, _ = _date_range(request)
    form = EmailFilterForm(request.GET)
    filters = form.filters()
    cursor, older, bad_position = _position(request)
    page = selectors.sent_email_page(**filters, cursor=cursor, older=older, size=PAGE_SIZE)
    counts = selectors.sent_email_status_counts(kind=filters["kind"], group_id=filters["group_id"])
    group_name = form.group_names.get(filters["group_id"]) if filters["group_id"] else None
    context = {
        "form": form,
        "filters": filters,
        "group_name": group_name,
        "status_label": SentEmail.Status(filters["status"]).label if filters["status"] else "",
        "kind_label": SentEmail.Kind(filters["kind"]).label if filters["kind"] else "",
        "page": page,
        "bad_position": bad_position,
        "status_counts": [(value, label, counts[value]) for value, label in SentEmail.Status.choices],
        "total": sum(counts.values()),
        "matching": counts[filters["status"]] if filters["status"] else sum(counts.values()),
        "range_qs": _range_qs(dates),
        "cannot_email": selectors.people_who_cannot_be_emailed(),
    }
    # A position that does not parse: the newest page, with the error, as a 400.
    return render(request, "dashboard/emails.html", context, status=400 if bad_position else 200)


def _position(request) -> tuple[keyset.Cursor | None, bool, str]:
    """The page position asked for (`after` or `before`), or the newest page and why the
    one given cannot be read."""
    try:
        cursor, older = keyset.requested(request.GET)
    except keyset.BadCursor as exc:
        return None, True, str(exc)
    return cursor, older, ""
