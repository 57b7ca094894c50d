from django.conf import settings

from groups import permissions


def portal(request):
    """What the layout needs on every page: the office name and which menus to show."""
    user = getattr(request, "user", None)
    return {
        "ORGANISATION_NAME": settings.ORGANISATION_NAME,
        "nav_is_dpo": bool(user and permissions.is_dpo(user)),
        "nav_is_auditor": bool(user and permissions.is_auditor(user)),
    }
