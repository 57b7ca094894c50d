"""How people and values are written, the same way on every page, email and export."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def display_name(user) -> str:
    """A person as the portal names them: their full name, or their username if it is empty."""
    return user.get_full_name() or user.get_username()


def full_name(username: str, first_name: str, last_name: str) -> str:
    """`display_name` for a row read with `values()` (no user object)."""
    return f"{first_name} {last_name}".strip() or username


def neutralise(value):
    """Make a text cell inert in a spreadsheet: text that starts like a formula gets a quote.
    Anything that is not text (a number, a date) is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def percent(part: int, whole: int, *, places: int = 0) -> float | int | None:
    """`part` as a percentage of `whole`, rounded half up (12.5 -> 13), or None when
    there is nothing to count. Whole numbers unless `places` asks for decimals."""
    if not whole:
        return None
    value = (Decimal(100) * part / whole).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return float(value) if places else int(value)
