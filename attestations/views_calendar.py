"""The calendar feed's pages (issue 15): the person's secret address, its reset, the feed."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from . import calendar


def _address(feed) -> str:
    """The feed's absolute address, built from SITE_URL and never from the request's Host."""
    return f"{settings.SITE_URL}{reverse('attestations:calendar_feed', args=[feed.token])}"


@login_required
@require_http_methods(["GET", "POST"])
def calendar_page(request):
    """The person's calendar address, made when they first ask for it."""
    if request.method == "POST":
        calendar.calendar_feed_create(user=request.user)
        return redirect("attestations:calendar")
    feed = calendar.calendar_feed_of(user=request.user)
    address = _address(feed) if feed else ""
    # webcal:// opens the phone's calendar app at its "subscribe" screen.
    webcal = "webcal://" + address.split("://", 1)[1] if address else ""
    return render(
        request,
        "attestations/calendar.html",
        {"feed": feed, "address": address, "webcal": webcal, "alarm_hours": settings.CALENDAR_ALARM_HOURS},
    )


@login_required
@require_http_methods(["GET", "POST"])
def calendar_reset(request):
    """Asks first: every calendar subscribed to the old address stops updating."""
    feed = calendar.calendar_feed_of(user=request.user)
    if feed is None:
        return redirect("attestations:calendar")
    if request.method == "POST":
        calendar.calendar_feed_reset(user=request.user)
        messages.success(
            request,
            "Your calendar address is reset: the old one no longer works. Subscribe again with the new one below.",
        )
        return redirect("attestations:calendar")
    return render(request, "attestations/calendar_reset.html", {"feed": feed})


@require_safe
def calendar_feed(request, token: str):
    """The feed itself: no sign-in (calendar apps cannot), the token is the key; anything
    else is 404, saying nothing about whether an address ever existed."""
    user = calendar.calendar_feed_owner(token=token)
    if user is None:
        raise Http404
    response = HttpResponse(calendar.calendar_ical(user=user), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="clear-downs.ics"'
    response["Cache-Control"] = "private, max-age=0, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
