from functools import cache

from django.conf import settings

from groups import permissions, selectors


def portal(request):
    """What the layout needs on every page: the office name and which menus to show."""
    user = getattr(request, "user", None)
    is_dpo = bool(user and permissions.is_dpo(user))
    is_auditor = bool(user and permissions.is_auditor(user))

    @cache
    def nav_dashboard() -> bool:
        # Asked afresh on each page, so someone made admin sees the link at once and someone
        # who handed the role over loses it (the dashboard would refuse them). Only pages
        # that draw the menu ask, once, and the DPO and auditors cost no query.
        if is_dpo or is_auditor:
            return True
        return bool(user and user.is_authenticated and selectors.user_runs_a_group(user=user))

    return {
        "ORGANISATION_NAME": settings.ORGANISATION_NAME,
        "nav_is_dpo": is_dpo,
        "nav_is_auditor": is_auditor,
        "nav_dashboard": nav_dashboard,
    }
