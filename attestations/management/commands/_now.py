"""The --now option of the clear-down commands: an ISO date and time, UK time if naive."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError
from django.utils import timezone

from attestations.periods import LONDON


def add_now_argument(parser) -> None:
    parser.add_argument(
        "--now",
        help="Act as if it were this moment (ISO 8601, e.g. 2026-11-13T17:30; UK time unless an offset is given).",
    )


def parse_now(value: str | None) -> dt.datetime:
    if not value:
        return timezone.now()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--now: “{value}” is not an ISO 8601 date and time.") from exc
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=LONDON)
    return moment.astimezone(dt.UTC)
