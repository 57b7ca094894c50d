"""The clear-down part of the register's group page: the hold banner, the current cycle,
the prompt to paste and the hold's chat message.

The register (`groups`) knows nothing of clear-downs; its page asks for this part here:
`{% load clear_downs %}{% group_clear_downs group as clear_downs %}`.
"""

from django import template
from django.utils import timezone

from groups.models import ChatGroup

from .. import hold_notices, permissions, selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def group_clear_downs(context, group: ChatGroup) -> dict:
    """What the group page shows of its clear-downs, for the person looking at it."""
    user = context["request"].user
    panel = selectors.group_cycle_panel(group=group, user=user, with_people=permissions.can_see_people(user, group))
    can_prompt = permissions.can_prompt(user, group)
    cycle = panel.cycle
    return {
        "cycle_panel": panel,
        "can_prompt": can_prompt,
        "can_hold": permissions.can_hold(user),
        "prompt_text": selectors.cycle_prompt_text(cycle=cycle) if cycle and cycle.prompted_at and can_prompt else "",
        "hold_chat": hold_notices.group_hold_chat(group=group, user=user, now=timezone.now()),
    }
