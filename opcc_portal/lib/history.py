"""Writes with history (R11): every change to a record says who made it and why.

django-simple-history records a row per save; these two helpers give it the acting user
and the reason, for one object or for a bulk write, so that no service sets the private
attributes itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

LONDON = ZoneInfo("Europe/London")

# The width of simple-history's `history_change_reason` column.
REASON_LENGTH = 100


def save_with_history(obj, *, by: AbstractBaseUser | None, reason: str, **save_kwargs) -> None:
    """Save `obj` with a history row naming `by` (None: the portal itself) and `reason`."""
    obj._change_reason = (reason or "")[:REASON_LENGTH]
    obj._history_user = by
    obj.save(**save_kwargs)


def bulk_history(model, objs: Sequence, *, by: AbstractBaseUser | None, reason: str, update: bool) -> None:
    """History rows for objects written in bulk (`bulk_create`, `bulk_update`, `update()`),
    which do not call `save()`. `update` says whether they were changed or created."""
    if objs:
        model.history.bulk_history_create(
            objs, update=update, default_user=by, default_change_reason=(reason or "")[:REASON_LENGTH]
        )


# --- Reading history: one way to write a change, on the register's page and in the audit ---

# Bookkeeping columns that change with every save and say nothing to a reader.
HIDDEN_FIELDS = frozenset({"updated_at", "created_at", "id"})
EMPTY = "—"


def field_display(model_field, value) -> str:
    """A field's value as a reader sees it: the label of a choice, a time in UK time with
    its zone (GMT or BST), a dash for nothing."""
    if value in (None, ""):
        return EMPTY
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, dt.datetime):
        return timezone.localtime(value, LONDON).strftime("%Y-%m-%d %H:%M:%S %Z")
    return str(value)


def field_change(model_field, old, new) -> dict:
    """One changed field of a history record. A foreign key keeps its raw ids and names its
    `model`, so that the caller names every related object of a page in one query per model
    (`name_related`)."""
    related = model_field.related_model if model_field.is_relation else None
    return {
        "field": str(model_field.verbose_name),
        "model": related,
        "old": old if related else field_display(model_field, old),
        "new": new if related else field_display(model_field, new),
    }


def record_changes(record, previous) -> list[dict]:
    """The changes from `previous` to `record` (two historical records of one object)."""
    meta = record.instance_type._meta
    return [
        field_change(meta.get_field(change.field), change.old, change.new)
        for change in record.diff_against(previous).changes
        if change.field not in HIDDEN_FIELDS
    ]


def name_related(changes: list[dict], names: dict[type, dict]) -> None:
    """Replace the ids of foreign keys in `changes` with names (`names[model][pk]`)."""
    for change in changes:
        model = change.pop("model")
        if model is not None:
            for side in ("old", "new"):
                value = change[side]
                change[side] = EMPTY if value in (None, "") else names[model].get(value, f"#{value}")
