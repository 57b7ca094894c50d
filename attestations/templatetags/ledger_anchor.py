"""The ledger's head hash and count, for pages that carry a copy of it out of the portal:
`{% load ledger_anchor %}{% ledger_anchor as anchor %}` (the FOI pack). One query."""

from django import template

from .. import ledger

register = template.Library()


@register.simple_tag
def ledger_anchor() -> ledger.Anchor:
    return ledger.ledger_anchor()
