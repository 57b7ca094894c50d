"""What every form-handling view shares."""

from __future__ import annotations

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
