"""Emails about clear-downs: one function per email, three templates each.

Templates live in `templates/emails/<name>-subject.txt`, `-body.txt` and `-body.html`.
Links are absolute, from SITE_URL. No email ever carries message content (R10).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from .links import obligation_link_url
from .models import Obligation

logger = logging.getLogger(__name__)

# Errors worth another try: the mail server or the network, not a bug in our code.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError)


def _render(name: str, context: dict) -> tuple[str, str, str]:
    context = {**context, "SITE_URL": settings.SITE_URL, "ORGANISATION_NAME": settings.ORGANISATION_NAME}
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    text = render_to_string(f"emails/{name}-body.txt", context)
    html = render_to_string(f"emails/{name}-body.html", context)
    return subject, text, html


def prompt_email(*, obligation: Obligation) -> EmailMultiAlternatives:
    """The admin's weekly prompt to one member, with a signed link to confirm (R5)."""
    cycle = obligation.cycle
    context = {
        "user": obligation.user,
        "group": cycle.group,
        "cycle": cycle,
        "link": obligation_link_url(obligation),
        "home_url": f"{settings.SITE_URL}{reverse('home')}",
        "howto_url": f"{settings.SITE_URL}{reverse('attestations:howto')}",
        "link_days": settings.ATTEST_LINK_MAX_AGE_DAYS,
    }
    subject, text, html = _render("prompt", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[obligation.user.email])
    message.attach_alternative(html, "text/html")
    return message


def send_prompt_emails(obligations: Sequence[Obligation]) -> tuple[list[Obligation], Exception | None]:
    """Send each member their prompt over one connection.

    Returns those not sent and the error that stopped the sending. One message at a time,
    so that a failure half way tells exactly who is still owed an email.
    """
    for obligation in obligations:
        if not obligation.user.email:
            logger.warning("User %s has no email address: no prompt email sent.", obligation.user_id)
    unsent = [o for o in obligations if o.user.email]
    connection = get_connection()
    try:
        connection.open()
        while unsent:
            connection.send_messages([prompt_email(obligation=unsent[0])])
            unsent.pop(0)
    except TRANSIENT_MAIL_ERRORS as exc:
        logger.warning("Prompt emails stopped with %d unsent: %s", len(unsent), exc)
        return unsent, exc
    finally:
        connection.close()
    return [], None
