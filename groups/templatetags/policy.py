"""The policy's pieces on pages that are not its own (R15): the acknowledgement asked of a
person on their home page, and the people waiting to join a group until they acknowledge.

`{% load policy %}{% policy_ack_request %}` and `{% group_pending_acks group %}`: tags, so
the home page (the clear-downs' view) and the group's page need not know the policy.
"""

from django import template
from django.utils import timezone

from groups import permissions
from groups.models import ChatGroup, PendingMembership
from groups.policy_selectors import policy_ack_due

register = template.Library()


@register.inclusion_tag("policy/_ack_request.html", takes_context=True)
def policy_ack_request(context) -> dict:
    request = context["request"]
    return {"due": policy_ack_due(user=request.user, now=timezone.now()), "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("policy/_group_pending.html", takes_context=True)
def group_pending_acks(context, group: ChatGroup) -> dict:
    pending = list(
        PendingMembership.objects.filter(group=group, resolved_at__isnull=True).select_related("user", "added_by")
    )
    return {
        "group": group,
        "pending": pending,
        "can_manage": permissions.can_manage(context["request"].user, group),
        "csrf_token": context.get("csrf_token"),
    }
