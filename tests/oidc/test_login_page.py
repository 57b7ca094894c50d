"""The sign-in page with and without an identity provider, and password sign-in switched off."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests import factories
from tests.test_portal import SETUP, run_python

pytestmark = pytest.mark.django_db

ISSUER = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"


@pytest.fixture
def provider_configured(settings):
    # Only the page is drawn: nothing here contacts the provider.
    settings.OIDC_ISSUER, settings.OIDC_ENABLED = ISSUER, True
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "client", "secret"
    settings.OIDC_PROVIDER_NAME = "Microsoft"
    return settings


def test_without_a_provider_the_page_is_the_password_form_alone(client):
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" not in page and "oidc/authenticate" not in page
    assert 'name="password"' in page and "Forgotten your password?" in page
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/", {"code": "x", "state": "y"}).status_code == 404


def test_with_a_provider_the_page_leads_with_its_button(client, provider_configured):
    page = client.get(reverse("login"), {"next": "/groups/"}).content.decode()
    button = page.index('href="/oidc/authenticate/?next=/groups/">Sign in with Microsoft</a>')
    assert button < page.index("Or sign in with a password") < page.index('name="password"')


def test_password_sign_in_still_works_beside_the_provider(client, provider_configured, member):
    response = client.post(reverse("login"), {"username": "member", "password": factories.PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")


@pytest.fixture
def passwords_off(provider_configured):
    provider_configured.PASSWORD_SIGN_IN = False
    return provider_configured


def test_with_passwords_off_the_form_is_kept_for_it_emergency_accounts(client, passwords_off):
    page = client.get(reverse("login")).content.decode()
    assert page.index("Sign in with Microsoft") < page.index("Emergency sign-in for IT") < page.index('name="password"')
    assert "Forgotten your password?" not in page


def test_with_passwords_off_staff_cannot_sign_in_with_their_right_password(client, passwords_off, member):
    response = client.post(reverse("login"), {"username": "member", "password": factories.PASSWORD})
    assert response.status_code == 200
    message = "only for IT&#x27;s emergency accounts"
    assert message in response.content.decode()
    assert client.get(reverse("home")).status_code == 302
    # The same answer for a wrong password: the page never confirms a password.
    wrong = client.post(reverse("login"), {"username": "member", "password": "not-it"})
    assert wrong.content.decode().count(message) == response.content.decode().count(message)


def test_with_passwords_off_a_superuser_still_signs_in_with_a_password(client, passwords_off):
    get_user_model().objects.create_superuser("it-breakglass", "it@example.org", factories.PASSWORD)
    response = client.post(reverse("login"), {"username": "it-breakglass", "password": factories.PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_with_passwords_off_staff_cannot_use_the_django_admin_login_either(client, passwords_off):
    factories.UserFactory(username="staffer", is_staff=True)
    response = client.post("/admin/login/", {"username": "staffer", "password": factories.PASSWORD})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_switching_passwords_off_ends_sessions_signed_in_with_a_password(client, settings, provider_configured, member):
    client.post(reverse("login"), {"username": "member", "password": factories.PASSWORD})
    assert client.get(reverse("home")).status_code == 200
    settings.PASSWORD_SIGN_IN = False
    assert client.get(reverse("home")).status_code == 302


def test_passwords_off_without_a_provider_stops_start_up():
    result = run_python(SETUP, DEBUG="true", PASSWORD_SIGN_IN="false")
    assert result.returncode != 0
    assert "ImproperlyConfigured: PASSWORD_SIGN_IN is off but OIDC_ISSUER is not set" in result.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"OIDC_ISSUER": ISSUER}, "OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set too."),
        (
            {"OIDC_ISSUER": "login.example.org", "OIDC_CLIENT_ID": "c", "OIDC_CLIENT_SECRET": "s"},
            "OIDC_ISSUER must be a URL",
        ),
        ({"OIDC_LINK_BY": "phone"}, "OIDC_LINK_BY must be email, username or none, not 'phone'."),
        ({"OIDC_SIGN_ALGO": "HS256"}, "OIDC_SIGN_ALGO must be one of"),
        ({"OIDC_CREATE_USERS": "perhaps"}, "OIDC_CREATE_USERS must be true or false, not 'perhaps'."),
        ({"PASSWORD_SIGN_IN": "nope"}, "PASSWORD_SIGN_IN must be true or false, not 'nope'."),
    ],
)
def test_a_malformed_sign_in_setting_stops_start_up(variables, message):
    result = run_python(SETUP, DEBUG="true", **variables)
    assert result.returncode != 0
    assert message in result.stderr


def test_entra_id_is_configured_by_issuer_client_id_and_secret_alone():
    code = (
        SETUP
        + "; from django.conf import settings as s"
        + "; print(repr((s.OIDC_ENABLED, s.OIDC_RP_CLIENT_ID, s.OIDC_ROLE_VALUES)))"
    )
    result = run_python(
        code,
        DEBUG="true",
        OIDC_ISSUER=ISSUER + "/",
        OIDC_CLIENT_ID="client",
        OIDC_CLIENT_SECRET="secret",
        OIDC_DPO_VALUES="Portal.DPO,Portal.Dpo2",
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == "(True, 'client', {'DPO': ['Portal.DPO', 'Portal.Dpo2'], 'Auditor': []})"
    )
