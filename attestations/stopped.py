"""What a suspended or retired group asks of its members (R13), in one place.

Every page, email and export that shows a clear-down of such a group gives the same reason:
the chat still holds what was said, so its clear-downs are still owed, but nothing new is
posted (suspended) or the group is left after its final clear-down (retired).
"""

from __future__ import annotations

from groups.models import ChatGroup

from .periods import LONDON

Status = ChatGroup.Status


def stopped_since(group: ChatGroup) -> str:
    """The status and its date ("Suspended on 18 Nov 2026"), or "" for a group taking part as usual.

    Anything with a group's `status` and `status_changed_at` will do (a dashboard row).
    """
    if group.status not in (Status.SUSPENDED, Status.RETIRED):
        return ""
    label = Status(group.status).label
    if group.status_changed_at is None:
        return label
    return f"{label} on {group.status_changed_at.astimezone(LONDON):%-d %b %Y}"


def stopped_note(group: ChatGroup) -> str:
    """The rule for a suspended or retired group, in a sentence or two; "" for any other."""
    since = stopped_since(group)
    if not since:
        return ""
    if group.status == Status.SUSPENDED:
        return (
            f"Group {since[0].lower()}{since[1:]}: clear it and do not post in it. "
            "The chat still holds what was said, so its clear-downs are still owed; "
            "no new weeks start until the DPO reinstates it."
        )
    return (
        f"Group {since[0].lower()}{since[1:]}: clear it one last time, then leave it. "
        "The chat still holds what was said, so its clear-downs up to the retirement are still owed; "
        "nothing more is asked after that."
    )
