from django.apps import AppConfig


class AttestationsConfig(AppConfig):
    name = "attestations"
    verbose_name = "Weekly clear-downs"

    def ready(self) -> None:
        # The app's composition root: the notifications register their email builders with
        # the outbox, and their Celery tasks with the worker, when they are imported. The
        # clear-down core never imports them (see the README's Architecture). A leaver's
        # clear-downs close when the register closes their account (R14): `leavers` holds the
        # receiver of `groups.staff.user_deactivated`.
        from . import leavers  # noqa: F401
        from .notifications import emails, holds, tasks  # noqa: F401
        from .notifications import leavers as leaver_emails  # noqa: F401
        from .notifications import policy as policy_emails  # noqa: F401
