"""Portal-wide behaviour: configuration, health check, migrations, real services in CI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parent.parent


SETUP = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'opcc_portal.settings'; django.setup()"


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = run_python(SETUP, DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_it_fails_loudly_on_a_malformed_setting():
    result = run_python(SETUP, DEBUG="false", SECRET_KEY="x" * 50, MAX_APPROVED_GROUPS="twelve")
    assert result.returncode != 0
    assert "invalid literal for int" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MAX_APPROVED_GROUPS", "0", "MAX_APPROVED_GROUPS must be at least 1, not 0."),
        ("CLEAR_DOWN_GRACE_HOURS", "-1", "CLEAR_DOWN_GRACE_HOURS must be at least 1, not -1."),
        ("ESCALATE_AFTER_HOURS", "-5", "ESCALATE_AFTER_HOURS must be at least 0, not -5."),
        ("CLEAR_DOWN_PROMPT_HOURS", "-1", "CLEAR_DOWN_PROMPT_HOURS must be at least 0, not -1."),
        ("ATTEST_LINK_MAX_AGE_DAYS", "0", "ATTEST_LINK_MAX_AGE_DAYS must be at least 1, not 0."),
        ("REMINDER_LEAD_HOURS", "-24", "REMINDER_LEAD_HOURS must be at least 0, not -24."),
        ("EMAIL_MAX_ATTEMPTS", "0", "EMAIL_MAX_ATTEMPTS must be at least 1, not 0."),
        ("SUMMARY_THRESHOLD_PERCENT", "101", "SUMMARY_THRESHOLD_PERCENT must be between 0 and 100, not 101."),
        ("LOGO_MAX_BYTES", "-1", "LOGO_MAX_BYTES must be between 1 and 1048576, not -1."),
        ("LOGO_MAX_BYTES", "1048577", "LOGO_MAX_BYTES must be between 1 and 1048576, not 1048577."),
        # Renewed less often than half the idle limit, a session in use could lapse.
        ("SESSION_REFRESH_SECONDS", "3601", "SESSION_REFRESH_SECONDS must be between 0 and 3600, not 3601."),
        ("FILE_STORAGE", "s3", "FILE_STORAGE must be local or database, not 's3'."),
        ("SWEEP_MINUTES", "7", "SWEEP_MINUTES must divide an hour (1, 2, 3, 5, 10, 15, 20, 30, 60), not 7."),
        (
            "METRICS_TOKEN",
            "short",
            "METRICS_TOKEN must be at least 32 characters: it guards the metrics from guessing.",
        ),
    ],
)
def test_it_refuses_to_start_with_a_policy_number_out_of_range(variable, value, message):
    result = run_python(SETUP, DEBUG="false", SECRET_KEY="x" * 50, **{variable: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


@pytest.mark.parametrize(
    ("email_url", "expected"),
    [(None, str(ROOT / "var" / "mail")), ("filemail:////srv/portal/mail", "/srv/portal/mail")],
)
def test_emails_written_as_files_go_to_an_absolute_folder(email_url, expected, tmp_path):
    env = {"DEBUG": "true", "VAR_DIR": str(ROOT / "var")}
    if email_url:
        env["EMAIL_URL"] = email_url
    clean = {k: v for k, v in os.environ.items() if k != "EMAIL_URL"}
    result = subprocess.run(
        [sys.executable, "-c", SETUP + "; from django.conf import settings; print(settings.EMAIL_FILE_PATH)"],
        cwd=tmp_path,
        env={**clean, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )  # from another folder: a relative path would land there
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_it_has_a_migration_for_every_model_change(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_answers_a_head_probe(client):
    response = client.head(reverse("healthz"))
    assert response.status_code == 200 and response.content == b""


@pytest.mark.django_db
def test_healthz_stays_live_when_only_the_broker_is_unreachable_and_the_status_says_so(client, settings, monkeypatch):
    """The web works without the broker (emails wait), so a Redis outage must not take the
    web nodes out of the load balancer; the monitoring status reports the broker down."""
    from opcc_portal.celery import app

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    monkeypatch.setitem(app.conf, "broker_transport", None)  # as configured for a Redis broker
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "down"}
    status = client.get(reverse("healthz_status"))
    assert status.status_code == 503
    assert status.json()["broker"] == "down" and status.json()["database"] == "ok"


@pytest.mark.django_db
def test_the_home_page_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_login_page_signs_in_and_out(client, member):
    from tests.factories import PASSWORD

    response = client.post("/accounts/login/", {"username": "member", "password": "wrong"})
    assert response.status_code == 200 and "There is a problem" in response.content.decode()
    response = client.post("/accounts/login/", {"username": "member", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("role, label", [("dpo", "(DPO)"), ("auditor", "(Auditor)"), ("member", "Morgan Lee")])
def test_the_nav_bar_names_the_role(client, request, role, label):
    client.force_login(request.getfixturevalue(role))
    assert label in client.get("/groups/").content.decode()


DASHBOARD_LINK = 'href="/dashboard/">Dashboard</a>'


@pytest.mark.django_db
def test_the_dashboard_link_follows_the_admin_role_without_signing_in_again(client, member, admin_user, group):
    from groups import services

    client.force_login(member)
    assert DASHBOARD_LINK not in client.get("/groups/").content.decode()
    services.chatgroup_set_admin(group=group, user=member, by=admin_user)
    assert DASHBOARD_LINK in client.get("/groups/").content.decode()  # made admin: the link appears
    client.force_login(admin_user)  # signed in while still admin...
    services.chatgroup_set_admin(group=group, user=admin_user, by=member)
    services.chatgroup_set_admin(group=group, user=member, by=admin_user)
    page = client.get("/groups/").content.decode()
    assert DASHBOARD_LINK not in page  # ...handed over: no link to a page that would refuse them
    assert client.get(reverse("dashboard:index")).status_code == 403


@pytest.mark.django_db
def test_the_dashboard_link_is_looked_up_once_a_page_and_never_for_the_dpo_or_auditors(
    client, dpo, auditor, member, monkeypatch
):
    from groups import selectors

    calls = []
    real = selectors.user_runs_a_group
    monkeypatch.setattr(selectors, "user_runs_a_group", lambda **kw: calls.append(kw["user"]) or real(**kw))
    for person, lookups in ((dpo, 0), (auditor, 0), (member, 1)):
        client.force_login(person)
        calls.clear()
        page = client.get("/groups/").content.decode()
        assert len(calls) == lookups
        assert (DASHBOARD_LINK in page) is (person != member)
    calls.clear()
    client.get(reverse("healthz"))  # a response drawn without the menu does not ask
    assert calls == []


@pytest.mark.django_db
def test_the_password_change_page_uses_the_portal_layout(client, member):
    client.force_login(member)
    body = client.get(reverse("password_change")).content.decode()
    assert "Change your password" in body and "Clear-down portal" in body


@pytest.mark.django_db
def test_it_uses_postgresql_when_services_are_required():
    if not REQUIRE_SERVICES and connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL (set it, or REQUIRE_SERVICES=1 as in CI)")
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_postgresql_connections_run_without_jit():
    """The planner's JIT cost 25-30 ms of pages whose queries take 2 ms (DATABASE_JIT)."""
    if not REQUIRE_SERVICES and connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL (set it, or REQUIRE_SERVICES=1 as in CI)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


@pytest.mark.django_db
def test_the_broker_is_redis_when_services_are_required(settings, client):
    if not REQUIRE_SERVICES and not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("CELERY_BROKER_URL is not Redis (set it, or REQUIRE_SERVICES=1 as in CI)")
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert client.get(reverse("healthz")).json()["broker"] == "ok"


def test_static_assets_are_served_by_the_portal_not_a_cdn():
    base = (ROOT / "templates" / "base.html").read_text()
    assert "https://" not in base and "http://" not in base


def test_manage_py_names_a_settings_error_instead_of_models_not_loaded(tmp_path):
    """Without SECRET_KEY (and not in development) a command says so, rather than Django's
    "Models aren't loaded yet." that hides the settings' own message."""
    # A bare environment, as a fresh shell has: neither SECRET_KEY nor DEBUG.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "VAR_DIR": str(tmp_path)}
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    # One line naming what to set, not a traceback (which in some environments ends at
    # "Models aren't loaded yet." with the settings' message nowhere).
    assert done.stderr.startswith("The portal's settings are incomplete: SECRET_KEY is not set")
    assert "Traceback" not in done.stderr
