"""The dashboard's policy pages (R15): who has acknowledged a version, by group and by person,
a group's drill-down, and the CSV. Same scope as the rest of the dashboard: the DPO and
auditors see every group, an admin the groups they run. Nothing here writes."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from groups.policy_models import PolicyVersion
from groups.policy_selectors import PersonAck, policy_acks_by_group, policy_acks_by_person, policy_current
from opcc_portal.lib.text import display_name, neutralise

from .. import periods
from ..forms import is_id
from .views import Echo, dashboard_scope, group_in_scope

PAGE_SIZE = 100
STATUSES = {"pending": "Not yet, deadline to come", "overdue": "Overdue", "acknowledged": "Acknowledged"}


def _version(request) -> PolicyVersion:
    """The version asked for (`?version=<id>`, published only), else the current one."""
    asked = request.GET.get("version", "")
    if asked:
        if not is_id(asked):
            raise Http404("No such version.")
        return get_object_or_404(PolicyVersion, pk=asked, published_at__isnull=False)
    current = policy_current(now=timezone.now())
    if current is None:
        raise Http404("No version of the policy is published yet.")
    return current


def _status(request) -> str:
    status = request.GET.get("status", "")
    return status if status in STATUSES else ""


def _context(request, version: PolicyVersion) -> dict:
    return {
        "version": version,
        "versions": PolicyVersion.objects.filter(published_at__isnull=False).order_by("-effective_on", "-pk"),
        "status": _status(request),
        "statuses": STATUSES.items(),
    }


@login_required
@require_GET
def acks(request):
    scope = dashboard_scope(request)
    version = _version(request)
    now = timezone.now()
    allowed = set(scope.groups().values_list("pk", flat=True))
    by_group = [row for row in policy_acks_by_group(version=version, now=now) if row.group.pk in allowed]
    people = policy_acks_by_person(
        version=version, now=now, groups=None if scope.is_all else scope.groups(), status=_status(request)
    )
    totals = {
        "members": sum(r.members for r in by_group),
        "acknowledged": sum(r.acknowledged for r in by_group),
        "overdue": sum(r.overdue for r in by_group),
    }
    context = {
        **_context(request, version),
        "by_group": by_group,
        "page": Paginator(people, PAGE_SIZE).get_page(request.GET.get("page")),
        "totals": totals,
    }
    return render(request, "dashboard/policy.html", context)


@login_required
@require_GET
def group(request, pk: int):
    scope = dashboard_scope(request)
    chat_group = group_in_scope(scope, pk)
    version = _version(request)
    people = policy_acks_by_person(
        version=version,
        now=timezone.now(),
        groups=scope.groups().filter(pk=chat_group.pk),
        status=_status(request),
    )
    context = {
        **_context(request, version),
        "group": chat_group,
        "page": Paginator(people, PAGE_SIZE).get_page(request.GET.get("page")),
    }
    return render(request, "dashboard/policy_group.html", context)


def _local(moment) -> str:
    return moment.astimezone(periods.LONDON).strftime("%Y-%m-%d %H:%M") if moment else ""


def person_rows(people: list[PersonAck], version: PolicyVersion):
    yield ["Version", "Person", "Username", "Email", "Groups", "Status", "Deadline (UK time)", "Acknowledged (UK time)"]
    for row in people:
        yield [
            version.number,
            display_name(row.user),
            row.user.get_username(),
            row.user.email,
            "; ".join(row.groups),
            STATUSES[row.status],
            _local(row.due_at),
            _local(row.acknowledged_at),
        ]


@login_required
@require_GET
def acks_csv(request):
    scope = dashboard_scope(request)
    version = _version(request)
    people = policy_acks_by_person(
        version=version, now=timezone.now(), groups=None if scope.is_all else scope.groups(), status=_status(request)
    )
    writer = csv.writer(Echo())
    response = StreamingHttpResponse(
        (writer.writerow([neutralise(cell) for cell in row]) for row in person_rows(people, version)),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"policy-v{version.number}-acknowledgements.csv".replace(" ", "-").replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
