"""Sign-in through the office's identity provider with OpenID Connect (Entra ID or any other).

mozilla-django-oidc runs the authorisation code flow: PKCE, state and nonce kept in the
session and checked on return, the ID token's signature checked against the provider's
published keys (JWKS). This module adds what the portal needs around it:

- the provider's endpoints come from its discovery document, so an office configures the
  issuer, client id and secret and nothing else;
- the ID token's issuer, audience and expiry are checked too (the library checks only the
  signature and the nonce);
- the account is found by the provider's subject id (opcc_portal/identities.py), never by email;
- every way a sign-in can fail ends on a page that says what happened, not a server error;
- the person lands where their role's work is, like a password sign-in.
"""

from __future__ import annotations

import hashlib
import logging

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from . import identities
from .accounts import landing_url

logger = logging.getLogger(__name__)

# Seconds of difference between the provider's clock and ours that a token's times may show.
CLOCK_LEEWAY_SECONDS = 60
DISCOVERY_CACHE_SECONDS = 60 * 60
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


class ProviderUnavailable(Exception):
    """The provider could not be reached, or its discovery document is not usable."""


def provider_config() -> dict:
    """The provider's discovery document (<issuer>/.well-known/openid-configuration), cached an hour."""
    issuer = settings.OIDC_ISSUER
    key = "oidc-discovery:" + hashlib.sha256(issuer.encode()).hexdigest()
    config = cache.get(key)
    if config is not None:
        return config
    try:
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        config = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"discovery document of {issuer}: {exc}") from exc
    # The document must be the issuer's own (OpenID Connect Discovery 1.0, section 4.3).
    if str(config.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderUnavailable(f"discovery document names issuer {config.get('issuer')!r}, not {issuer!r}")
    missing = [name for name in REQUIRED_ENDPOINTS if not config.get(name)]
    if missing:
        raise ProviderUnavailable(f"discovery document of {issuer} lacks {', '.join(missing)}")
    cache.set(key, config, DISCOVERY_CACHE_SECONDS)
    return config


def callback_url() -> str:
    """The redirect URI registered at the provider: from SITE_URL, never from the request's Host."""
    return settings.SITE_URL + reverse(settings.OIDC_AUTHENTICATION_CALLBACK_URL)


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs in the person whose ID token the provider returned; nothing else.

    Django builds its backends for every sign-in, password ones included, so the provider's
    document is read only when a code from the provider is being redeemed.
    """

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()

    def authenticate(self, request, nonce=None, code_verifier=None, **kwargs):
        # Only the callback passes a nonce: a password sign-in never reaches the provider.
        if not settings.OIDC_ENABLED or request is None or nonce is None:
            return None
        config = provider_config()
        self.issuer = config["issuer"].rstrip("/")
        self.OIDC_OP_TOKEN_ENDPOINT = config["token_endpoint"]
        self.OIDC_OP_JWKS_ENDPOINT = config["jwks_uri"]
        self.OIDC_OP_USER_ENDPOINT = config.get("userinfo_endpoint")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)

    def get_token(self, payload):
        payload["redirect_uri"] = callback_url()
        return super().get_token(payload)

    def _verify_jws(self, payload, key):
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {header.get('alg')!r}, not {self.OIDC_RP_SIGN_ALGO}.")
        # Signature, and the claims that make the token this portal's and current (OpenID
        # Connect Core 1.0, 3.1.3.7): issued by our issuer, for our client, not expired.
        return jwt.decode(
            payload,
            key,
            algorithms=[self.OIDC_RP_SIGN_ALGO],
            audience=self.OIDC_RP_CLIENT_ID,
            issuer=self.issuer,
            leeway=CLOCK_LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )

    def get_userinfo(self, access_token, id_token, payload):
        # The claims are the signed ID token's: Entra ID puts roles, groups and "oid" there
        # and not in its userinfo answer.
        return payload

    def verify_claims(self, claims):
        return True

    def get_or_create_user(self, access_token, id_token, payload):
        subject = str(payload.get(settings.OIDC_SUBJECT_CLAIM) or "")
        return identities.identity_sign_in(issuer=self.issuer, subject=subject, claims=payload, now=timezone.now())

    def get_user(self, user_id):
        # Django's own: a closed account (is_active off) ends its sessions.
        return ModelBackend.get_user(self, user_id)


# What each failure page says. Details go to the log, never to the page.
PROBLEMS = {
    "stale": (
        400,
        "This sign-in did not start here, or it has already been used (the page was reloaded or "
        "opened twice). Start again.",
    ),
    "not-completed": (400, "The sign-in provider did not complete the sign-in."),
    "not-verified": (
        400,
        "The answer from the sign-in provider could not be verified, so you have not been signed in.",
    ),
    "provider-refused": (400, "The sign-in provider did not confirm this sign-in. Start again."),
    "unreachable": (502, "The sign-in provider could not be reached. Try again in a few minutes."),
}


def problem(request, reason: str):
    status, message = PROBLEMS[reason]
    context = {"message": message, "refused": False, "provider_name": settings.OIDC_PROVIDER_NAME}
    return render(request, "registration/oidc_problem.html", context, status=status)


def refused(request, reason: str):
    context = {
        "message": identities.REFUSALS[reason],
        "refused": True,
        "provider_name": settings.OIDC_PROVIDER_NAME,
        "dpo_email": settings.DPO_EMAIL,
    }
    return render(request, "registration/oidc_problem.html", context, status=403)


class AuthenticateView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider, with a fresh state, nonce and PKCE challenge."""

    def __init__(self, *args, **kwargs):
        # The endpoint is read from the discovery document when a request comes, not at start-up.
        View.__init__(self, *args, **kwargs)

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404("Sign-in through an identity provider is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_config()["authorization_endpoint"]
        except ProviderUnavailable as exc:
            logger.warning("Sign-in through the provider could not start: %s", exc)
            return problem(request, "unreachable")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)

    def get_extra_params(self, request):
        return {"redirect_uri": callback_url()}


class CallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: checks everything, signs in, lands by role."""

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404("Sign-in through an identity provider is not configured.")
        state = request.GET.get("state")
        if ("code" in request.GET or "error" in request.GET) and state not in request.session.get("oidc_states", {}):
            # No sign-in of this browser is waiting for this state: forged, replayed or stale.
            # (An "error" answer would otherwise sign out whoever is signed in: a forged link
            # must not do that.)
            logger.warning("Sign-in callback with a state this session did not issue.")
            return problem(request, "stale")
        try:
            return super().get(request)
        except identities.SignInRefused as exc:
            logger.warning("Sign-in through the provider refused: %s.", exc.reason)
            return refused(request, exc.reason)
        except (ProviderUnavailable, requests.ConnectionError, requests.Timeout) as exc:
            logger.warning("Sign-in through the provider failed, provider unreachable: %s", exc)
            return problem(request, "unreachable")
        except requests.HTTPError as exc:
            # The token endpoint refused the code: used already, expired, or not ours.
            logger.warning("Sign-in through the provider failed, code refused: %s", exc)
            return problem(request, "provider-refused")
        except (SuspiciousOperation, jwt.InvalidTokenError, requests.RequestException, ValueError) as exc:
            logger.warning("Sign-in through the provider failed, ID token not accepted: %s", exc)
            return problem(request, "not-verified")

    def login_failure(self):
        return problem(self.request, "not-completed")

    @property
    def success_url(self):
        # A safe `next` (checked when the sign-in started) wins, as on the password form.
        return self.request.session.get("oidc_login_next") or landing_url(self.user)
