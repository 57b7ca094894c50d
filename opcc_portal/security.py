"""Request-level safeguards: the client's real address behind a proxy, the sign-in lock-out by
address, a cap on request bodies and an absolute lifetime for sessions."""

from __future__ import annotations

import ipaddress
import time

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.db.models import Sum
from django.dispatch import receiver
from django.http import HttpResponse


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in settings.TRUSTED_PROXIES)


def client_ip(request) -> str:
    """The address of the person making the request.

    Without a trusted proxy configured this is the connection's own address and any
    X-Forwarded-For header is ignored: anyone can send one. Behind a proxy the connection
    comes from the proxy, so the client's address is read from the header the proxy appends
    to, counting TRUSTED_PROXY_COUNT hops from the right (entries further left were written
    by the client and prove nothing). With TRUSTED_PROXIES set, a request that does not come
    from one of them is taken at its own address: the header is only believed from our proxy.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if not count and not settings.TRUSTED_PROXIES:
        return remote
    if settings.TRUSTED_PROXIES and not _trusted(remote):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()] + [remote]
    if count:
        candidate = hops[max(0, len(hops) - 1 - count)]
    else:
        # Only the addresses are known: skip our own proxies from the right.
        index = len(hops) - 1
        while index > 0 and _trusted(hops[index]):
            index -= 1
        candidate = hops[index]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # A malformed entry (a client's invention that reached the counted position) is not an
        # address to lock or log: fall back to the connection's.
        return remote


class AxesHandler(AxesDatabaseHandler):
    """django-axes' database handler with a second, higher limit per address.

    AXES_LOCKOUT_PARAMETERS counts failures per username and address, and per address
    alone; axes compares the larger count with one limit. A person mistyping their own
    password must be stopped at AXES_FAILURE_LIMIT, while one address trying many usernames
    (password spraying) is stopped at AXES_ADDRESS_FAILURE_LIMIT, so the address count is
    scaled to the per-user limit here.
    """

    def get_failures(self, request, credentials=None) -> int:
        per_pair, per_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if per_address >= settings.AXES_ADDRESS_FAILURE_LIMIT:
            return max(per_pair, settings.AXES_FAILURE_LIMIT)
        return per_pair

    def reset_user_attempts(self, request, credentials=None) -> int:
        # A successful sign-in clears that person's own failures only: a sprayer holding one
        # valid account must not wipe the address's count by signing in with it.
        per_pair = self.filter_user_attempts(request, credentials)[0]
        count, _ = per_pair.delete()
        return count


def request_size_limit(get_response):
    """Refuse a request body larger than the largest legitimate one (413), before it is read.

    Django reads a body only up to its Content-Length: one sent chunked, without a length,
    is read as empty, so this check on the declared length caps every body.
    """

    def middleware(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("Bad request: the Content-Length is not a number.", status=400)
        if length > settings.REQUEST_MAX_BYTES:
            return HttpResponse(
                f"The request is too large. A logo may be at most {settings.LOGO_MAX_BYTES // 1024:,} KB.",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return get_response(request)

    return middleware


SIGNED_IN_AT = "signed_in_at"
RENEWED_AT = "renewed_at"


@receiver(user_logged_in)
def _remember_sign_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = request.session[RENEWED_AT] = time.time()


def session_lifetimes(get_response):
    """A signed-in session's two limits: SESSION_COOKIE_AGE idle, SESSION_ABSOLUTE_SECONDS in all.

    Idle: each request slides the expiry, but the session is written (and its cookie sent
    again) only when its last renewal is SESSION_REFRESH_SECONDS old, not on every
    request: a page costs no write to the sessions table, and the idle limit is exact to
    within that many seconds.

    Absolute: SESSION_COOKIE_AGE slides, so without this a stolen cookie kept busy would
    never expire. A session signed in before this check existed has no sign-in time: its
    lifetime counts from its first request after the upgrade.
    """

    def middleware(request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session, now = request.session, time.time()
            signed_in_at = session.setdefault(SIGNED_IN_AT, now)
            if now - signed_in_at > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
                return redirect_to_login(request.get_full_path())
            if now - session.get(RENEWED_AT, 0) >= settings.SESSION_REFRESH_SECONDS:
                session[RENEWED_AT] = now  # modified: saved with a new expiry, cookie sent again
        return get_response(request)

    return middleware
