from django.apps import AppConfig


class AttestationsConfig(AppConfig):
    name = "attestations"
    verbose_name = "Weekly clear-downs"

    def ready(self) -> None:
        # The hold emails register their builders with the outbox (`emails.BUILDERS`).
        from . import hold_emails  # noqa: F401
