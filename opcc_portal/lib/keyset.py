"""Keyset ("seek") paging of lists sorted newest first: a page is the rows after (or before)
the last row shown, found through an index, however deep it is; no OFFSET, no COUNT.

A position is a row's sort key written into the address (`?after=…` for older rows,
`?before=…` for newer ones), so a page's link is stable and can be bookmarked: it shows
the same rows while nothing is added, and new rows never shift it. A key that does not
parse is reported as `BadCursor` (the view shows the first page and says so).

The key is the row's time (UTC), optionally a label (which of several tables a row comes
from), and its id: `20260501T160000.123456Z~obligation~4711`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Q

SEPARATOR = "~"
# UTC, to the microsecond, with nothing a link must escape.
TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
MAX_CURSOR_LENGTH = 100


class BadCursor(ValueError):
    """A page position that is not one the portal wrote."""


@dataclass(frozen=True, order=True)
class Cursor:
    """A row's place in the order newest first: by time, then label, then id (all descending)."""

    when: dt.datetime
    label: str = ""
    pk: int = 0

    def encode(self) -> str:
        parts = [self.when.astimezone(dt.UTC).strftime(TIME_FORMAT)]
        if self.label:
            parts.append(self.label)
        parts.append(str(self.pk))
        return SEPARATOR.join(parts)

    @classmethod
    def decode(cls, text: str, *, labels: Sequence[str] = ()) -> Cursor:
        """The cursor written by `encode`, or `BadCursor`. `labels` are the labels allowed
        (none: the cursor has no label)."""
        if len(text) > MAX_CURSOR_LENGTH:
            raise BadCursor("The page position is too long.")
        parts = text.split(SEPARATOR)
        if len(parts) != (3 if labels else 2):
            raise BadCursor("The page position is not one this page wrote.")
        label = parts[1] if labels else ""
        if labels and label not in labels:
            raise BadCursor("The page position names a kind of record that does not exist.")
        if not parts[-1].isascii() or not parts[-1].isdigit():
            raise BadCursor("The page position is not one this page wrote.")
        try:
            when = dt.datetime.strptime(parts[0], TIME_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise BadCursor("The page position is not one this page wrote.") from exc
        return cls(when=when, label=label, pk=int(parts[-1]))


def seek(*, cursor: Cursor, older: bool, when: str, pk: str, label_rank: int = 0, cursor_rank: int = 0) -> Q:
    """The rows of one table (of rank `label_rank` among the labels) that come after
    `cursor` (older rows) or before it (newer rows), in the order (time, rank, id)
    descending. The time bound comes first and alone, so an index on (time, id) serves it."""
    if older:
        if label_rank < cursor_rank:
            return Q(**{f"{when}__lte": cursor.when})
        if label_rank > cursor_rank:
            return Q(**{f"{when}__lt": cursor.when})
        return Q(**{f"{when}__lte": cursor.when}) & (Q(**{f"{when}__lt": cursor.when}) | Q(**{f"{pk}__lt": cursor.pk}))
    if label_rank > cursor_rank:
        return Q(**{f"{when}__gte": cursor.when})
    if label_rank < cursor_rank:
        return Q(**{f"{when}__gt": cursor.when})
    return Q(**{f"{when}__gte": cursor.when}) & (Q(**{f"{when}__gt": cursor.when}) | Q(**{f"{pk}__gt": cursor.pk}))


@dataclass
class KeysetPage:
    """One page of rows, newest first, with the positions of the pages either side."""

    object_list: list = field(default_factory=list)
    # Encoded cursors for `?after=` (older rows) and `?before=` (newer rows), or "".
    older: str = ""
    newer: str = ""
    # Whether this is the newest page (no position asked, or nothing newer).
    is_first: bool = True

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_other_pages(self) -> bool:
        return bool(self.older or self.newer)


def page_of(rows: list, *, size: int, older: bool, asked: bool, key) -> KeysetPage:
    """A page from up to `size + 1` rows read in the page's direction (newest first for
    older pages, oldest first for newer ones). `key(row)` is a row's `Cursor`."""
    more = len(rows) > size
    rows = rows[:size]
    if not older:
        rows.reverse()
    page = KeysetPage(object_list=rows, is_first=not asked or (not older and not more))
    if rows:
        if older and more or not older and asked:
            page.older = key(rows[-1]).encode()
        if (not older and more) or (older and asked):
            page.newer = key(rows[0]).encode()
    return page


def requested(params, *, labels: Sequence[str] = ()) -> tuple[Cursor | None, bool]:
    """The position a request's GET asks for and whether it asks for older rows (`after`)
    or newer ones (`before`): (None, True) for the first page. `BadCursor` if it does not parse."""
    after, before = params.get("after", ""), params.get("before", "")
    if after:
        return Cursor.decode(after, labels=labels), True
    if before:
        return Cursor.decode(before, labels=labels), False
    return None, True
