"""The migration that adds `ChatGroup.status_changed_at` keeps every row and fills it in from
the register's history (R13 needs the moment a group was suspended or retired)."""

import datetime as dt

import pytest

from tests.migrate import migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("groups", "0002_roles")]


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_it_fills_in_when_each_group_last_changed_status_from_its_history():
    apps = migrate_to(BEFORE)
    try:
        User = apps.get_model("auth", "User")
        ChatGroup = apps.get_model("groups", "ChatGroup")
        History = apps.get_model("groups", "HistoricalChatGroup")
        dana = User.objects.create(username="dana")

        def group(name, status, steps, approved_at=None):
            made = ChatGroup.objects.create(
                name=name, purpose="Work", admin=dana, proposed_by=dana, status=status, approved_at=approved_at
            )
            for n, (when, step) in enumerate(steps):
                History.objects.create(
                    id=made.pk, name=name, purpose="Work", admin=dana, proposed_by=dana, status=step,
                    approved_at=approved_at, cycle_weekday=4, cycle_time=dt.time(17), created_at=when,
                    updated_at=when, history_date=when, history_type="+" if n == 0 else "~", logo="",
                )  # fmt: skip
            return made.pk

        suspended = group(
            "Paused",
            "suspended",
            [
                (utc(2026, 1, 1), "proposed"),
                (utc(2026, 1, 2), "approved"),
                (utc(2026, 3, 1), "suspended"),
                (utc(2026, 3, 5), "suspended"),  # a later change of other details
            ],
        )
        reinstated = group(
            "Back",
            "approved",
            [
                (utc(2026, 1, 1), "proposed"),
                (utc(2026, 1, 2), "approved"),
                (utc(2026, 2, 1), "suspended"),
                (utc(2026, 4, 1), "approved"),
                (utc(2026, 5, 1), "approved"),
            ],
        )
        no_history = group("Imported", "approved", [], approved_at=utc(2025, 6, 1))
    finally:
        apps = migrate_to()
    ChatGroup = apps.get_model("groups", "ChatGroup")
    assert ChatGroup.objects.count() == 3
    changed = dict(ChatGroup.objects.values_list("pk", "status_changed_at"))
    assert changed == {suspended: utc(2026, 3, 1), reinstated: utc(2026, 4, 1), no_history: utc(2025, 6, 1)}
