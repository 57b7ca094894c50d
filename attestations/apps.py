from django.apps import AppConfig


class AttestationsConfig(AppConfig):
    name = "attestations"
    verbose_name = "Weekly clear-downs"

    def ready(self) -> None:
        # The hold emails register their builders with the outbox (`emails.BUILDERS`); a
        # leaver's clear-downs close when the register closes their account (R14): the
        # receiver of `groups.staff.user_deactivated`, and the DPO's email's builder.
        from . import hold_emails, leavers  # noqa: F401
