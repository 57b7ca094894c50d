#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opcc_portal.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    # Django keeps a settings error to itself until a command needs the models, then
    # reports "Models aren't loaded yet." instead. Say what is wrong with the settings.
    try:
        settings.INSTALLED_APPS  # noqa: B018 - reading it loads the settings
    except ImproperlyConfigured as exc:
        sys.exit(f"The portal's settings are incomplete: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
