"""Sign-in through the office's identity provider: whose account it is, and which roles it has.

The provider has already proved who the person is (opcc_portal/oidc.py checked its signed ID
token); this module finds their portal account by the provider's stable subject id, links
it on the first sign-in (once, by the rule of OIDC_LINK_BY) and applies the roles the
provider's claim gives. One transaction per sign-in.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from groups import staff
from groups.models import ExternalIdentity

from .lib.history import save_with_history

logger = logging.getLogger(__name__)

LinkedBy = ExternalIdentity.LinkedBy


class SignInRefused(Exception):
    """The provider vouched for this person, but the portal does not let them in.

    `reason` is one of REFUSALS' keys; the sign-in page explains it.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


REFUSALS = {
    "unknown": "Your account at the sign-in provider is not linked to an account in the portal.",
    "ambiguous": "More than one account in the portal has your email address, so none was chosen.",
    "taken": "The portal account with your details is already linked to another person at the sign-in provider.",
    "inactive": "Your account in the portal has been closed.",
    "no-subject": "The sign-in provider did not say who you are.",
}


def claim_values(claims: dict, name: str) -> set[str]:
    """A claim as a set of strings: providers send one value or a list."""
    value = claims.get(name)
    if value is None:
        return set()
    if isinstance(value, list | tuple):
        return {str(item) for item in value}
    return {str(value)}


def roles_from_claims(claims: dict) -> dict[str, bool] | None:
    """For each role the provider decides (OIDC_ROLE_VALUES with values), whether this person has it.

    None when the claim's values were not sent at all: Entra ID replaces a "groups" claim of
    more than 200 groups by a reference (`_claim_names`); that says nothing about the roles,
    so nothing is changed.
    """
    mapping = {role: set(values) for role, values in settings.OIDC_ROLE_VALUES.items() if values}
    if not mapping:
        return None
    claim = settings.OIDC_ROLES_CLAIM
    if claim in (claims.get("_claim_names") or {}):
        logger.warning("The provider sent the %r claim by reference (too many values): roles left unchanged.", claim)
        return None
    values = claim_values(claims, claim)
    return {role: bool(values & wanted) for role, wanted in mapping.items()}


def _email_if_verified(claims: dict) -> str:
    email = str(claims.get("email") or "").strip()
    verified = claims.get("email_verified") in (True, "true") or settings.OIDC_TRUST_EMAIL
    return email if email and verified else ""


def _account_for_first_sign_in(*, issuer: str, claims: dict) -> tuple[AbstractBaseUser | None, str]:
    """The existing account this person's first sign-in links to, matched once by OIDC_LINK_BY."""
    users = get_user_model().objects.all()
    if settings.OIDC_LINK_BY == "email":
        email = _email_if_verified(claims)
        candidates = list(users.filter(email__iexact=email)[:2]) if email else []
        linked_by = LinkedBy.EMAIL
    elif settings.OIDC_LINK_BY == "username":
        username = str(claims.get(settings.OIDC_USERNAME_CLAIM) or "").strip()
        candidates = list(users.filter(username__iexact=username)[:2]) if username else []
        linked_by = LinkedBy.USERNAME
    else:
        candidates, linked_by = [], ""
    if len(candidates) > 1:
        raise SignInRefused("ambiguous")
    if candidates and ExternalIdentity.objects.filter(issuer=issuer, user=candidates[0]).exists():
        # Matched once: an account linked to one person at the provider is never taken over
        # by another whose email or username now looks the same. IT unlinks in the admin.
        raise SignInRefused("taken")
    return (candidates[0] if candidates else None), linked_by


def _free_username(wanted: str) -> str:
    User = get_user_model()
    base = wanted[:140] or "user"
    username, number = base, 1
    while User.objects.filter(username__iexact=username).exists():
        number += 1
        username = f"{base}-{number}"
    return username


def _account_create(*, claims: dict, subject: str) -> AbstractBaseUser:
    email = _email_if_verified(claims)
    wanted = str(claims.get(settings.OIDC_USERNAME_CLAIM) or email or subject).strip()
    user = get_user_model()(
        username=_free_username(wanted),
        email=email,
        first_name=str(claims.get("given_name") or "")[:150],
        last_name=str(claims.get("family_name") or "")[:150],
    )
    # Such an account signs in through the provider only.
    user.set_unusable_password()
    user.save()
    return user


def _identity_link(*, issuer: str, subject: str, claims: dict, now: dt.datetime) -> ExternalIdentity:
    user, linked_by = _account_for_first_sign_in(issuer=issuer, claims=claims)
    if user is None:
        if not settings.OIDC_CREATE_USERS:
            raise SignInRefused("unknown")
        user, linked_by = _account_create(claims=claims, subject=subject), LinkedBy.CREATED
    identity = ExternalIdentity(issuer=issuer, subject=subject, user=user, linked_at=now, linked_by=linked_by)
    reason = f"First sign-in: linked by {identity.get_linked_by_display().lower()}"
    try:
        with transaction.atomic():
            save_with_history(identity, by=user, reason=reason)
    except IntegrityError:
        # The same person signing in twice at once, or this account linked meanwhile.
        existing = ExternalIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        if existing is None:
            raise SignInRefused("taken") from None
        return existing
    logger.info(
        "Linked %s (id %s) to subject %s at %s by %s.", user.get_username(), user.pk, subject, issuer, linked_by
    )
    return identity


def _roles_apply(*, identity: ExternalIdentity, claims: dict) -> None:
    """Grant and remove the roles the provider decides; history and the log say what and why."""
    wanted = roles_from_claims(claims)
    if wanted is None:
        return
    user = identity.user
    granted, removed = staff.roles_apply_from_provider(
        user=user, wanted=wanted, reason=f"Sign-in: the provider's {settings.OIDC_ROLES_CLAIM} claim"
    )
    provider_roles = ", ".join(sorted(role for role, on in wanted.items() if on))
    if not (granted or removed) and identity.provider_roles == provider_roles:
        return
    changes = [f"granted {', '.join(granted)}" if granted else "", f"removed {', '.join(removed)}" if removed else ""]
    reason = f"Sign-in, {settings.OIDC_ROLES_CLAIM} claim: " + ("; ".join(c for c in changes if c) or "no change")
    identity.provider_roles = provider_roles
    save_with_history(identity, by=user, reason=reason, update_fields=["provider_roles"])
    logger.info(
        "Roles of %s (id %s) at sign-in through %s: granted %s, removed %s (the provider's %r claim).",
        user.get_username(),
        user.pk,
        identity.issuer,
        granted or "none",
        removed or "none",
        settings.OIDC_ROLES_CLAIM,
    )


def identity_sign_in(*, issuer: str, subject: str, claims: dict, now: dt.datetime) -> AbstractBaseUser:
    """The portal account of the person the provider signed in, with the provider's roles applied.

    Raises SignInRefused when the person has no account here (and none may be created), when
    the match is not certain, or when their account is closed.
    """
    if not subject:
        raise SignInRefused("no-subject")
    with transaction.atomic():
        identity = ExternalIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        if identity is None:
            identity = _identity_link(issuer=issuer, subject=subject, claims=claims, now=now)
        if not identity.user.is_active:
            raise SignInRefused("inactive")
        _roles_apply(identity=identity, claims=claims)
        ExternalIdentity.objects.filter(pk=identity.pk).update(last_sign_in_at=now)
    return identity.user
