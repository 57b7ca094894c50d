"""Hardened settings: deploy check, headers, login throttling, sessions, password reset."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parent.parent


def test_the_deploy_check_reports_nothing_with_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "SESSION_", "DJANGO_ALLOW_ASYNC"))}
    env.update(
        DEBUG="false",
        SECRET_KEY="a-long-random-production-secret-" + "x7Kq9" * 10,
        ALLOWED_HOSTS="clear-down.example.org",
        SITE_URL="https://clear-down.example.org",
        STATICFILES_STORAGE="whitenoise.storage.CompressedManifestStaticFilesStorage",
        VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_every_page_carries_a_strict_content_security_policy(client, member):
    client.force_login(member)
    response = client.get(reverse("groups:register"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_templates_have_no_inline_script_or_style():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        if "emails" in path.parts:
            continue  # email clients need inline styles; CSP does not apply to mail
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)", text) or re.search(r"\sstyle=|<style", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_account_out_for_a_while(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="target")
    for _ in range(3):
        response = client.post(reverse("login"), {"username": "target", "password": "wrong"})
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    # Even the right password is refused while locked out.
    response = client.post(reverse("login"), {"username": "target", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_failed_login_below_the_limit_just_says_so(client, member):
    response = client.post(reverse("login"), {"username": "member", "password": "wrong"})
    assert response.status_code == 200 and "There is a problem" in response.content.decode()
    response = client.post(reverse("login"), {"username": "member", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.django_db
def test_sessions_expire_after_inactivity_and_logout_clears_them(client, member, settings):
    client.post(reverse("login"), {"username": "member", "password": PASSWORD})
    assert client.get("/").status_code == 200
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    with _after(settings.SESSION_COOKIE_AGE + 60):
        assert client.get("/").status_code == 302
    client.post(reverse("login"), {"username": "member", "password": PASSWORD})
    session_key = client.session.session_key
    client.post(reverse("logout"))
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=session_key).exists()
    assert client.get("/").status_code == 302


def _after(seconds):
    import datetime as dt

    import time_machine
    from django.utils import timezone

    return time_machine.travel(timezone.now() + dt.timedelta(seconds=seconds), tick=False)


@pytest.mark.django_db
def test_password_reset_mails_a_link_built_from_site_url(client, member, settings):
    settings.ALLOWED_HOSTS = ["*"]  # even if a proxy let a forged Host header through
    client.post(reverse("password_reset"), {"email": member.email}, HTTP_HOST="evil.example.com")
    [message] = mail.outbox
    assert message.to == [member.email]
    link = re.search(r"(http\S+)", message.body).group(1)
    assert link.startswith(settings.SITE_URL + "/accounts/reset/")
    assert "evil" not in message.body
    response = client.get(link.removeprefix(settings.SITE_URL), follow=True)
    assert "Choose a new password" in response.content.decode()


def test_strong_password_validators_are_on(settings):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ["password123", "short", "12345678901234"]:
        with pytest.raises(ValidationError):
            validate_password(weak)
