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

from .models import Obligation

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
    max_age = dt.timedelta(days=settings.ATTEST_LINK_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    try:
        return int(data["o"]), int(data["u"])
    except (TypeError, KeyError, ValueError) as exc:
        raise LinkInvalid from exc
