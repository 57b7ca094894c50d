"""What every form-handling view shares."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError


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
