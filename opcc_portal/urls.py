from django.contrib import admin
from django.urls import include, path

from . import accounts, legal, metrics, oidc, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/status", views.healthz_status, name="healthz_status"),
    # For a Prometheus scraper; 404 unless METRICS_TOKEN is set.
    path("metrics", metrics.metrics, name="metrics"),
    # The legal pages: readable signed out, linked from every page's footer.
    path("privacy/", legal.privacy, name="privacy"),
    path("accessibility/", legal.accessibility, name="accessibility"),
    path("cookies/", legal.cookies, name="cookies"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    # Sign-in through the office's identity provider (404 while OIDC_ISSUER is not set). The
    # callback is the redirect URI registered at the provider: <SITE_URL>/oidc/callback/.
    path("oidc/authenticate/", oidc.AuthenticateView.as_view(), name="oidc_authenticate"),
    path("oidc/callback/", oidc.CallbackView.as_view(), name="oidc_callback"),
    # Reset links are built from SITE_URL, never from the request's Host header; the emails
    # are throttled per address and email.
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("groups/", include("groups.urls")),
    path("clear-downs/", include("attestations.urls")),
    path("dashboard/", include("attestations.dashboard.urls")),
    path("audit/", include("attestations.audit.urls")),
    path("staff/", include("groups.staff_urls")),
    path("policy/", include("groups.policy_urls")),
    # Provisioning from the office's directory; 404 unless SCIM_TOKEN is set.
    path("scim/v2/", include("groups.scim_urls")),
    path("admin/", admin.site.urls),
]
