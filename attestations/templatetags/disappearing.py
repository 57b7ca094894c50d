"""The group page's disappearing-messages panel (R17): `{% load disappearing %}{% group_timer group %}`.

Two queries: the group's hold in force and its last timer confirmation.
"""

from django import template
from django.utils import timezone

from groups import permissions as group_permissions
from groups.models import ChatGroup

from .. import disappearing, selectors
from ..forms_reviews import ClearModeForm

register = template.Library()


@register.inclusion_tag("attestations/_group_timer.html", takes_context=True)
def group_timer(context, group: ChatGroup) -> dict:
    user = context["request"].user
    is_dpo = group_permissions.is_dpo(user)
    if group.status == ChatGroup.Status.RETIRED or not (group.uses_timer or is_dpo):
        return {"show": False}
    hold = selectors.group_active_hold(group=group)
    last = disappearing.last_confirmation(group=group) if group.uses_timer else None
    runs = disappearing.runs_chat(user, group)
    return {
        "show": True,
        "group": group,
        "hold": hold,
        "last": last,
        "due": disappearing.confirmation_due(group=group, last=last, now=timezone.now()),
        "runs_chat": runs,
        "is_dpo": is_dpo,
        "mode_form": ClearModeForm(initial={"mode": group.clear_mode, "timer_check": group.timer_check})
        if is_dpo
        else None,
        "request": context["request"],
    }
