"""The staff list as a CSV file (R14), for offices whose directory cannot use SCIM.

One row per person: `name`, `email`, `staff_number`, `active` (yes or no). A person is
matched by staff number, then by email. `import_plan` reads the file and says what would
change (new, changed, closed, reopened, unchanged) and what is wrong, row by row, without
writing anything; `import_apply` makes the changes in one transaction, and only if no row
is wrong: a file is imported whole or not at all. People who are not in the file are left
as they are (a partial list closes nobody by omission).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower

from . import staff
from .models import StaffProfile

User = get_user_model()

COLUMNS = ("name", "email", "staff_number", "active")
YES = {"yes", "y", "true", "1", "active"}
NO = {"no", "n", "false", "0", "inactive", "left"}
# A cell that a spreadsheet would run as a formula when the list is opened again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 20_000

KINDS = {
    "new": "New",
    "changed": "Changed",
    "deactivated": "Closed (left)",
    "reactivated": "Opened again",
    "unchanged": "Unchanged",
}


@dataclass
class RowError:
    line: int
    message: str


@dataclass
class Change:
    line: int
    kind: str
    details: staff.StaffDetails
    active: bool
    user: AbstractBaseUser | None = None
    fields: list[str] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


@dataclass
class ImportPlan:
    changes: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def counts(self) -> list[tuple[str, str, int]]:
        return [(kind, label, self.count(kind)) for kind, label in KINDS.items()]

    @property
    def to_change(self) -> list[Change]:
        return [c for c in self.changes if c.kind != "unchanged"]


def _rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (line, cells). ValidationError for a file that cannot be read."""
    limit = settings.STAFF_IMPORT_MAX_BYTES
    if len(data) > limit:
        raise ValidationError(f"The file is larger than {limit // 1024} KB. Split it, or ask IT to raise the limit.")
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte order mark
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text. In Excel, save it as “CSV UTF-8”.") from None
    if "\x00" in text:
        raise ValidationError("The file is not a CSV file (it holds binary data).")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = list(reader)
    except csv.Error as exc:
        raise ValidationError(f"The file could not be read as CSV: {exc}.") from None
    if not lines:
        raise ValidationError("The file is empty.")
    header = [h.strip().lower().replace(" ", "_") for h in lines[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValidationError(
            f"The first row must name the columns {', '.join(COLUMNS)}; missing: {', '.join(missing)}."
        )
    if len(lines) - 1 > MAX_ROWS:
        raise ValidationError(f"The file has more than {MAX_ROWS} rows. Split it.")
    index = {c: header.index(c) for c in COLUMNS}
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        rows.append((number, {c: (cells[i] if i < len(cells) else "").strip() for c, i in index.items()}))
    if not rows:
        raise ValidationError("The file has a header row but nobody in it.")
    return rows


def _split_name(name: str) -> tuple[str, str]:
    parts = name.split()
    return (" ".join(parts[:-1]), parts[-1]) if len(parts) > 1 else (name, "")


def import_plan(data: bytes) -> ImportPlan:
    """What importing `data` would do, and every row's problems. Reads only: four queries."""
    rows = _rows(data)
    numbers = {r["staff_number"] for _, r in rows if r["staff_number"]}
    addresses = {r["email"].lower() for _, r in rows if r["email"]}
    by_number = {
        p.staff_number: p.user for p in StaffProfile.objects.filter(staff_number__in=numbers).select_related("user")
    }
    by_email: dict[str, AbstractBaseUser] = {}
    for user in User.objects.annotate(address=Lower("email")).filter(address__in=addresses).order_by("pk"):
        by_email.setdefault(user.address, user)
    profiles = {p.user_id: p for p in StaffProfile.objects.filter(user__in=[*by_number.values(), *by_email.values()])}
    plan = ImportPlan()
    seen_numbers: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for line, row in rows:
        problems = []
        for column, value in row.items():
            if value.startswith(FORMULA_STARTS):
                problems.append(f"{column} begins with “{value[0]}”, which a spreadsheet would run as a formula")
        name, email, number, active_text = row["name"], row["email"].lower(), row["staff_number"], row["active"]
        if not name:
            problems.append("the name is missing")
        if not number:
            problems.append("the staff number is missing")
        elif number in seen_numbers:
            problems.append(f"the staff number {number} is also on line {seen_numbers[number]}")
        if email and email in seen_emails:
            problems.append(f"the email {email} is also on line {seen_emails[email]}")
        active = True if active_text.lower() in YES else False if active_text.lower() in NO else None
        if active is None:
            problems.append(f"active must be yes or no, not “{active_text}”")
        seen_numbers.setdefault(number, line)
        seen_emails.setdefault(email, line)
        user = by_number.get(number)
        other = by_email.get(email)
        if user and other and user.pk != other.pk:
            problems.append(f"the staff number is {user.get_username()}'s but the email is {other.get_username()}'s")
        user = user or other
        first, last = _split_name(name)
        profile = profiles.get(user.pk) if user else None
        details = staff.StaffDetails(
            username=user.get_username() if user else email,
            email=email,
            first_name=first,
            last_name=last,
            staff_number=number or None,
            external_id=profile.external_id if profile else None,
        )
        try:
            details = staff.staff_details_clean(details)
        except ValidationError as exc:
            problems += [m for messages in exc.message_dict.values() for m in messages]
        if problems:
            plan.errors.append(RowError(line, "; ".join(problems) + "."))
            continue
        plan.changes.append(_change(line, details, active, user, profile))
    return plan


def _change(line: int, details, active: bool, user, profile) -> Change:
    if user is None:
        # Someone not in the portal who has already left needs no account.
        return Change(line, "new" if active else "unchanged", details, active)
    before = {
        "name": (user.first_name, user.last_name),
        "email": user.email.lower(),
        "staff number": profile.staff_number if profile else None,
    }
    after = {
        "name": (details.first_name, details.last_name),
        "email": details.email,
        "staff number": details.staff_number,
    }
    fields = [name for name in before if before[name] != after[name]]
    if user.is_active and not active:
        kind = "deactivated"
    elif not user.is_active and active:
        kind = "reactivated"
    else:
        kind = "changed" if fields else "unchanged"
    return Change(line, kind, details, active, user, fields)


class ImportRefused(Exception):
    def __init__(self, plan: ImportPlan):
        super().__init__(f"{len(plan.errors)} row(s) are wrong")
        self.plan = plan


@transaction.atomic
def import_apply(*, data: bytes, by: AbstractBaseUser | None, source: str) -> ImportPlan:
    """Import the file: every change or none. Planned again inside the transaction, so
    what is written is what the file says now. A row refused by a service (the last DPO,
    one's own account) refuses the whole file: `ImportRefused` with that row's error."""
    plan = import_plan(data)
    if not plan.ok:
        raise ImportRefused(plan)
    reason = f"Staff list imported ({source})"
    for change in plan.to_change:
        try:
            if change.kind == "new" or change.fields:
                change.user = staff.staff_save(details=change.details, user=change.user, by=by, reason=reason)
            if change.kind == "deactivated":
                staff.user_deactivate(user=change.user, by=by, reason=f"Marked as left in the staff list ({source})")
            elif change.kind == "reactivated":
                staff.user_reactivate(user=change.user, by=by, reason=f"Marked as active in the staff list ({source})")
        except ValidationError as exc:
            transaction.set_rollback(True)
            plan.errors.append(RowError(change.line, " ".join(exc.messages)))
            raise ImportRefused(plan) from exc
    return plan
