"""A password strength check that estimates how guessable a password is, not what it contains."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from zxcvbn import zxcvbn


class ZxcvbnValidator:
    """Refuse a password zxcvbn scores below `min_score` (0-4).

    Length and character-class rules pass `aaaaaaaaaaaa` and `OwenJones2026`; zxcvbn sees the
    repetition and, given the person's own names and addresses, the name.
    """

    def __init__(self, min_score: int = 3):
        self.min_score = min_score

    @staticmethod
    def _user_inputs(user) -> list[str]:
        if user is None:
            return []
        first = getattr(user, "first_name", "") or ""
        last = getattr(user, "last_name", "") or ""
        email = getattr(user, "email", "") or ""
        # The name run together too: "OwenJones" is one word to someone guessing.
        inputs = [first, last, first + last, getattr(user, "username", "") or "", email, email.split("@")[0]]
        return [value.lower() for value in inputs if value]

    def validate(self, password: str, user=None) -> None:
        # zxcvbn's cost grows with length; its own documentation cuts the input at 100.
        result = zxcvbn(password[:100], user_inputs=self._user_inputs(user))
        if result["score"] < self.min_score:
            warning = result["feedback"].get("warning") or ""
            raise ValidationError(
                f"This password is too easy to guess. {warning}".strip()
                + " Try three or four unrelated words, or a longer phrase.",
                code="password_too_guessable",
            )

    def get_help_text(self) -> str:
        return "Your password must not be easy to guess: avoid names, dates, repeats and common words."
