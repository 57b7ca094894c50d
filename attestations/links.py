"""Signed one-click links to confirm a clear-down from an email.

A link names one obligation and the person it was sent to, is signed with a salt used
for nothing else, and expires. Opening it only shows a page: email scanners and link
previews fetch every link they see, so only a POST by its signed-in owner records anything.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import HoldNotice, Obligation

SALT = "attestations.obligation-link.v1"


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def obligation_link_token(obligation: Obligation) -> str:
    return signing.dumps({"o": obligation.pk, "u": obligation.user_id}, salt=SALT, compress=True)


def obligation_link_url(obligation: Obligation) -> str:
    """The absolute link, built from SITE_URL and never from a request's Host header."""
    path = reverse("attestations:link", args=[obligation_link_token(obligation)])
    return f"{settings.SITE_URL}{path}"


def obligation_link_read(token: str) -> tuple[int, int]:
    """The (obligation id, user id) a token was made for; raises LinkExpired or LinkInvalid."""
    return _read(token, salt=SALT, key="o", max_age_days=settings.ATTEST_LINK_MAX_AGE_DAYS)


def _read(token: str, *, salt: str, key: str, max_age_days: int) -> tuple[int, int]:
    try:
        data = signing.loads(token, salt=salt, max_age=dt.timedelta(days=max_age_days))
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    try:
        return int(data[key]), int(data["u"])
    except (TypeError, KeyError, ValueError) as exc:
        raise LinkInvalid from exc


# A hold notice's "I have read this" link: its own salt, so a clear-down link can never
# be replayed as an acknowledgement, nor the other way round.
HOLD_SALT = "attestations.hold-notice-link.v1"


def hold_notice_link_token(notice: HoldNotice) -> str:
    return signing.dumps({"n": notice.pk, "u": notice.user_id}, salt=HOLD_SALT, compress=True)


def hold_notice_link_url(notice: HoldNotice) -> str:
    path = reverse("attestations:hold_ack_link", args=[hold_notice_link_token(notice)])
    return f"{settings.SITE_URL}{path}"


def hold_notice_link_read(token: str) -> tuple[int, int]:
    """The (hold notice id, user id) a token was made for; raises LinkExpired or LinkInvalid."""
    return _read(token, salt=HOLD_SALT, key="n", max_age_days=settings.HOLD_ACK_LINK_MAX_AGE_DAYS)
