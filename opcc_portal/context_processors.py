from django.conf import settings

from groups import permissions

# Set in the session at sign-in (attestations.views_dashboard.remember_dashboard_access) for
# group admins and deputies, so the menu costs no query on each page.
NAV_DASHBOARD_SESSION_KEY = "nav_dashboard"


def portal(request):
    """What the layout needs on every page: the office name and which menus to show."""
    user = getattr(request, "user", None)
    is_dpo = bool(user and permissions.is_dpo(user))
    is_auditor = bool(user and permissions.is_auditor(user))
    session = getattr(request, "session", None)
    signed_in = bool(user and user.is_authenticated)
    runs_groups = bool(signed_in and session is not None and session.get(NAV_DASHBOARD_SESSION_KEY))
    return {
        "ORGANISATION_NAME": settings.ORGANISATION_NAME,
        "nav_is_dpo": is_dpo,
        "nav_is_auditor": is_auditor,
        "nav_dashboard": is_dpo or is_auditor or runs_groups,
    }
