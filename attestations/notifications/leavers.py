"""The DPO's email when a group's admin has left the organisation (R14).

Recorded by the core (`attestations.leavers`) when the account is closed; built here when
it is sent, so a group handed to a new admin, or retired, in the meantime is not reported.
"""

from __future__ import annotations

import datetime as dt
import re

from groups.models import ChatGroup

from .. import outbox
from ..models import SentEmail
from ..outbox import Built
from . import emails


def handover_email(email: SentEmail, *, to: str, now: dt.datetime) -> Built:
    """To a DPO: a group's admin left the organisation; name a new admin."""
    group = ChatGroup.objects.select_related("admin", "deputy").get(pk=email.group_id)
    match = re.search(r":u(\d+)", email.key)
    if group.admin.is_active or not match or group.admin_id != int(match.group(1)):
        return None, "a new admin was named before it could be sent"
    if group.status == ChatGroup.Status.RETIRED:
        return None, "the group was retired before it could be sent"
    context = {
        "user": email.user,
        "group": group,
        "leaver": group.admin,
        "deputy": group.deputy,
        "handover_url": emails.url("groups:roles", group.pk),
        "group_url": emails.url("groups:detail", group.pk),
    }
    return emails.message("admin-left", context, to), ""


outbox.register((SentEmail.Kind.ADMIN_LEFT,), handover_email)
