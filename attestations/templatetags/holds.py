"""The hold banner on every page of a group (R9): `{% load holds %}{% hold_banner group %}`.

A tag rather than a context processor, so only the group's pages pay for it: one query,
for the group's hold in force.
"""

from django import template

from groups.models import ChatGroup

from .. import selectors

register = template.Library()


@register.inclusion_tag("attestations/_hold_banner_of_group.html")
def hold_banner(group: ChatGroup) -> dict:
    return {"hold": selectors.group_active_hold(group=group)}
