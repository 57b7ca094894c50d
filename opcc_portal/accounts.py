"""Sign-in: each role lands where their work is."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import resolve_url

from groups import permissions

from .forms import LoginForm


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


class LoginView(auth_views.LoginView):
    """Django's sign-in, landing by role. A safe `next` still wins (an emailed link, a bookmark)."""

    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return landing_url(self.request.user)
