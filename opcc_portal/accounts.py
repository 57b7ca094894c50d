"""Sign-in: each role lands where their work is; passwords can be kept for IT's break-glass accounts."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url

from groups import permissions

from .forms import LoginForm
from .security import client_ip


def landing_url(user) -> str:
    """The DPO's work is the dashboard, an auditor's the audit; everyone else's their clear-downs.

    The DPO and auditors who owe clear-downs of their own see them in a panel at the top of
    those pages (R12), so landing there never hides a duty.
    """
    if permissions.is_dpo(user):
        return resolve_url("dashboard:index")
    if permissions.is_auditor(user):
        return resolve_url("audit:history")
    return resolve_url(settings.LOGIN_REDIRECT_URL)


class PasswordBackend(ModelBackend):
    """Django's password sign-in. With PASSWORD_SIGN_IN off, only superusers may use it (IT's
    break-glass accounts, for when the identity provider is down); for everyone else a correct
    password counts as a wrong one, on this form and the Django admin's alike, and sessions
    they signed in with a password end at their next request.
    """

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and (settings.PASSWORD_SIGN_IN or user.is_superuser)


class LoginView(auth_views.LoginView):
    """Django's sign-in, landing by role. A safe `next` still wins (an emailed link, a bookmark).

    With an identity provider configured the page leads with "Sign in with <provider>"; the
    password form follows it, or, with password sign-in off, is kept for IT's accounts.
    """

    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return landing_url(self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            oidc_enabled=settings.OIDC_ENABLED,
            oidc_provider_name=settings.OIDC_PROVIDER_NAME,
            password_sign_in=settings.PASSWORD_SIGN_IN,
            **kwargs,
        )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, sending at most PASSWORD_RESET_LIMIT emails an hour for one
    address and email; past that the page says exactly what it always says ("if an account
    exists, we have sent an email"), so it reveals nothing, and sends nothing.
    """

    extra_email_context = {"site_url": settings.SITE_URL}

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        # Hashed: the cache key must not carry an email address in clear.
        digest = hashlib.sha256(f"{client_ip(self.request)}|{email}".encode()).hexdigest()
        key = f"password-reset:{digest}"
        cache.add(key, 0, timeout=60 * 60)
        if cache.incr(key) > settings.PASSWORD_RESET_LIMIT:
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)
