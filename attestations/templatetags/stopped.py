"""Why a clear-down of a suspended or retired group is still owed (R13), on every page:
`{% load stopped %}{{ group|stopped_note }}` or `{{ group|stopped_since }}`."""

from django import template

from .. import stopped

register = template.Library()

register.filter("stopped_note", stopped.stopped_note)
register.filter("stopped_since", stopped.stopped_since)
