from django.apps import AppConfig


class AttestationsConfig(AppConfig):
    name = "attestations"
    verbose_name = "Weekly clear-downs"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .views_dashboard import remember_dashboard_access

        # Not business logic: it caches whether the menu shows the dashboard link.
        user_logged_in.connect(remember_dashboard_access, dispatch_uid="dashboard-nav")
