"""The group page's review panel (R16): `{% load reviews %}{% group_review group %}`.

A tag, so the register's page shows the review without the register importing the core:
two queries (the open review, the last one signed off).
"""

import datetime as dt

from django import template
from django.utils import timezone

from groups import permissions as group_permissions
from groups.models import ChatGroup, GroupReview

from .. import reviews, selectors
from ..forms_reviews import ReviewIntervalForm

register = template.Library()


@register.inclusion_tag("attestations/_group_review.html", takes_context=True)
def group_review(context, group: ChatGroup) -> dict:
    user = context["request"].user
    if group.status not in reviews.ANSWERABLE or not reviews.can_read(user, group):
        return {"show": False}
    review = reviews.review_open(group=group)
    is_dpo = group_permissions.is_dpo(user)
    return {
        "show": True,
        "group": group,
        "review": review,
        "last": reviews.review_last_signed_off(group=group),
        "overdue": review is not None and review.status == GroupReview.Status.DUE and review.due_at < timezone.now(),
        "can_answer": review is not None
        and review.status == GroupReview.Status.DUE
        and reviews.can_answer(user, group),
        "is_dpo": is_dpo,
        "interval_form": ReviewIntervalForm(initial={"months": group.review_months}) if is_dpo else None,
        "request": context["request"],
    }


# Home shows a review once it is this close to its due date (or sent back, or overdue).
HOME_NOTICE_DAYS = 30


@register.inclusion_tag("attestations/_my_reviews.html", takes_context=True)
def my_reviews_due(context) -> dict:
    """On the home page of an admin or deputy: the reviews of their groups they should answer
    soon. One query."""
    now = timezone.now()
    soon = now + dt.timedelta(days=HOME_NOTICE_DAYS)
    rows = [
        r
        for r in reviews.reviews_due_for(user=context["request"].user).order_by("due_at")
        if r.due_at < soon or r.return_reason
    ]
    return {"rows": rows, "now": now}


@register.inclusion_tag("attestations/_duty_flags.html", takes_context=True)
def duty_flags(context) -> dict:
    """On the DPO's dashboard: the open flags that are not a week's clear-down, an overdue
    review (R16) and a timer not turned off under a hold (R17), the latter first. One query."""
    return {"rows": list(selectors.open_duty_flags()), "request": context["request"]}
