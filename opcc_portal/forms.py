"""What every form-handling view shares."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms.utils import flatatt
from django.http import HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

# The days a filter may name. Python's dates stop at years 1 and 9999, so a range reaching
# either end overflows as soon as a day is added or a week's Monday is found (a server error,
# or an export cut off mid-download). No record of the portal can fall outside these years.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2099, 12, 31)
DAY_OUT_OF_RANGE = f"Give a date from {EARLIEST_DAY:%-d %B %Y} to {LATEST_DAY:%-d %B %Y}."


def call_service(form, service, **kwargs):
    """Run a service; put its rule violations on the form, beside their fields.

    Returns the service's result, or None when it refused (the form then has the errors).
    """
    try:
        return service(**kwargs)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        return None


class LoginForm(AuthenticationForm):
    """Django's sign-in form without its autofocus.

    Autofocus puts keyboard and screen-reader users in the middle of the page: the skip
    link would no longer be the first Tab stop, and the heading and the explanation above
    the form would be skipped (WCAG 2.4.3 focus order).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.pop("autofocus", None)
        if not settings.PASSWORD_SIGN_IN:
            # Said whether the password was right or not: the page must not confirm a password.
            self.error_messages = {
                **self.error_messages,
                "invalid_login": (
                    "Password sign-in is only for IT's emergency accounts, and this username and "
                    "password did not sign one in. Staff sign in with the button above."
                ),
            }


class DayField(forms.DateField):
    """A day in a filter of the dashboard or the audit: a real date, within the years above."""

    default_error_messages = {"invalid": "Give a real date, such as 2026-11-13."}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators += [
            MinValueValidator(EARLIEST_DAY, message=DAY_OUT_OF_RANGE),
            MaxValueValidator(LATEST_DAY, message=DAY_OUT_OF_RANGE),
        ]


class LongSelect(forms.Select):
    """A `<select>` of many options (a force's thousand groups), written in one pass.

    Django renders each option through a template of its own: about 60 µs an option, so
    60 ms of every page that offers a thousand groups. This writes the same markup (the
    field's attributes, each option escaped, the chosen one `selected`) without the
    per-option templates. No option groups: the lists it is used for are flat.
    """

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        chosen = set(self.format_value(value))
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option, mark_safe(" selected") if str(option) in chosen else "", label)  # noqa: S308 - a constant
                for option, label in self.choices
            ),
        )
        return format_html("<select{}>{}</select>", flatatt(final), options)


def bad_filters_response(form) -> HttpResponse:
    """400 for a download asked with filters that are not valid: a file of other rows than
    those asked for would mislead, so it says what is wrong instead, field by field."""
    messages = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        messages += [f"{label}: {error}" if label else error for error in errors]
    return HttpResponse(
        "Bad filters: " + " ".join(messages) + "\n", status=400, content_type="text/plain; charset=utf-8"
    )
