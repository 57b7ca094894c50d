"""Sign-in through a real OpenID provider on loopback (tests/oidc_provider/): the good path and
every way it must fail, accounts matched by subject id, roles from the provider's claim."""

from __future__ import annotations

import datetime as dt
import socket
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from axes.models import AccessLog
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from groups import permissions
from groups.models import ExternalIdentity, RoleChange
from opcc_portal import identities
from opcc_portal.oidc import OIDCBackend
from tests import factories

from .conftest import AUDITOR_VALUE, DPO_VALUE

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def signed_in_user(client):
    response = client.get(reverse("home"))
    return response.wsgi_request.user if response.status_code == 200 else None


def test_a_known_member_signs_in_and_is_linked_by_their_verified_email(sign_in_through_provider, client, member, oidc):
    oidc.person("morgan", email=member.email.upper(), email_verified=True, given_name="Morgan")
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert signed_in_user(client) == member
    assert client.session["_auth_user_backend"] == "opcc_portal.oidc.OIDCBackend"
    identity = ExternalIdentity.objects.get(user=member)
    assert (identity.issuer, identity.subject, identity.linked_by) == (oidc.issuer, "sub-morgan", "email")
    assert identity.last_sign_in_at is not None
    assert identity.history.get().history_change_reason == "First sign-in: linked by verified email address"
    # Recorded with the other sign-ins (django-axes' access log).
    assert AccessLog.objects.filter(username=member.username).exists()


def test_the_next_sign_in_matches_by_subject_even_when_the_email_has_changed(
    sign_in_through_provider, client, member, oidc
):
    oidc.person("morgan", email=member.email, email_verified=True)
    sign_in_through_provider("morgan")
    client.logout()
    oidc.person("morgan", email="morgan.lee@new-domain.example", email_verified=True)
    factories.UserFactory(username="someone-else", email="morgan.lee@new-domain.example")
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 302
    assert signed_in_user(client) == member


def test_a_safe_next_wins_and_an_unsafe_one_is_ignored(sign_in_through_provider, client, member, oidc):
    oidc.person("morgan", email=member.email, email_verified=True)
    response, _ = sign_in_through_provider("morgan", next_url="/groups/")
    assert response["Location"] == "/groups/"
    client.logout()
    response, _ = sign_in_through_provider("morgan", next_url="https://evil.example/")
    assert response["Location"] == reverse("home")


def test_a_wrong_state_is_refused(sign_in_through_provider, client, member, oidc):
    oidc.person("morgan", email=member.email, email_verified=True)

    def forge_state(url):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        query["state"] = ["forged-state"]
        return parts._replace(query=urlencode(query, doseq=True)).geturl()

    response, _ = sign_in_through_provider("morgan", change_callback=forge_state)
    assert response.status_code == 400
    assert "did not start here" in response.content.decode()
    assert signed_in_user(client) is None
    assert not ExternalIdentity.objects.exists()


def test_an_id_token_signed_with_a_key_the_provider_does_not_publish_is_refused(
    sign_in_through_provider, client, settings, member, oidc
):
    oidc.person("morgan", email=member.email, email_verified=True)
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "portal-rogue", "portal-rogue-secret"
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert signed_in_user(client) is None


def test_an_expired_id_token_is_refused(sign_in_through_provider, client, settings, member, oidc):
    oidc.person("morgan", email=member.email, email_verified=True)
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "portal-expired", "portal-expired-secret"
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert signed_in_user(client) is None


def test_an_id_token_for_another_client_is_refused(client, member, oidc, monkeypatch):
    # The provider only issues this portal's tokens to this portal; so the portal is made to
    # expect another client's, and must then refuse the genuine token as not addressed to it.
    oidc.person("morgan", email=member.email, email_verified=True)
    start = client.get("/oidc/authenticate/")
    back = urlsplit(oidc.approve(start["Location"], "morgan"))
    verify = OIDCBackend._verify_jws

    def as_another_client(backend, payload, key):
        backend.OIDC_RP_CLIENT_ID = "another-client"
        return verify(backend, payload, key)

    monkeypatch.setattr(OIDCBackend, "_verify_jws", as_another_client)
    response = client.get(f"{back.path}?{back.query}")
    assert response.status_code == 400
    assert signed_in_user(client) is None


def test_a_code_used_once_is_refused_the_second_time(sign_in_through_provider, client, member, oidc):
    oidc.person("morgan", email=member.email, email_verified=True)
    response, first_callback = sign_in_through_provider("morgan")
    assert response.status_code == 302
    client.logout()
    # A new sign-in, so the session holds a valid state and nonce; the old code is sent with it.
    start = client.get("/oidc/authenticate/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    code = parse_qs(urlsplit(first_callback).query)["code"][0]
    response = client.get("/oidc/callback/", {"code": code, "state": state})
    assert response.status_code == 400
    assert "did not confirm this sign-in" in response.content.decode()
    assert signed_in_user(client) is None


def test_a_callback_reloaded_after_signing_in_changes_nothing(sign_in_through_provider, client, member, oidc):
    oidc.person("morgan", email=member.email, email_verified=True)
    _, callback = sign_in_through_provider("morgan")
    parts = urlsplit(callback)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 400
    assert signed_in_user(client) == member  # still signed in; nothing else happened


def test_an_unknown_person_is_refused_with_a_clear_page(sign_in_through_provider, client, settings, oidc):
    settings.DPO_EMAIL = "dpo@example.org"
    oidc.person("stranger", email="stranger@example.org", email_verified=True)
    response, _ = sign_in_through_provider("stranger")
    assert response.status_code == 403
    page = response.content.decode()
    assert "You cannot use the portal with this account" in page
    assert "not linked to an account in the portal" in page and "dpo@example.org" in page
    assert signed_in_user(client) is None
    assert not get_user_model().objects.filter(email="stranger@example.org").exists()
    assert not ExternalIdentity.objects.exists()


def test_an_unknown_person_gets_an_account_with_no_role_when_the_setting_says_so(
    sign_in_through_provider, client, settings, oidc
):
    settings.OIDC_CREATE_USERS = True
    factories.UserFactory(username="sam.new", email="sam.old@example.org")  # username taken: another is found
    oidc.person(
        "stranger",
        email="sam.new@example.org",
        email_verified=True,
        preferred_username="sam.new",
        given_name="Sam",
        family_name="New",
    )
    response, _ = sign_in_through_provider("stranger")
    assert response.status_code == 302
    user = signed_in_user(client)
    assert (user.username, user.email, user.get_full_name()) == ("sam.new-2", "sam.new@example.org", "Sam New")
    assert not user.has_usable_password()
    assert not user.groups.exists()
    assert ExternalIdentity.objects.get(user=user).linked_by == "created"


def test_an_unverified_email_links_nobody(sign_in_through_provider, client, member, oidc):
    oidc.person("morgan", email=member.email, email_verified=False)
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 403
    assert signed_in_user(client) is None


def test_an_office_that_trusts_its_directory_links_by_email_without_email_verified(
    sign_in_through_provider, client, settings, member, oidc
):
    settings.OIDC_TRUST_EMAIL = True
    oidc.person("morgan", email=member.email)  # as Entra ID sends it
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 302 and signed_in_user(client) == member


def test_linking_by_username_when_the_setting_says_so(sign_in_through_provider, client, settings, member, oidc):
    settings.OIDC_LINK_BY = "username"
    oidc.person("morgan", preferred_username="MEMBER", email="other@example.org", email_verified=True)
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 302 and signed_in_user(client) == member
    assert ExternalIdentity.objects.get(user=member).linked_by == "username"


def test_an_account_is_linked_once_and_never_taken_over_by_a_lookalike(sign_in_through_provider, client, member, oidc):
    oidc.person("morgan", email=member.email, email_verified=True)
    sign_in_through_provider("morgan")
    client.logout()
    # Another person at the provider now shows the same email address.
    oidc.person("impostor", email=member.email, email_verified=True)
    response, _ = sign_in_through_provider("impostor")
    assert response.status_code == 403
    assert "already linked to another person" in response.content.decode()
    assert signed_in_user(client) is None
    assert ExternalIdentity.objects.get(user=member).subject == "sub-morgan"


def test_two_accounts_with_the_same_email_are_not_guessed_between(sign_in_through_provider, client, member, oidc):
    factories.UserFactory(username="member-old", email=member.email.upper())
    oidc.person("morgan", email=member.email, email_verified=True)
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 403
    assert "More than one account" in response.content.decode()


def test_a_closed_account_cannot_sign_in_through_the_provider(sign_in_through_provider, client, member, oidc):
    oidc.person("morgan", email=member.email, email_verified=True)
    sign_in_through_provider("morgan")
    member.is_active = False
    member.save()
    assert signed_in_user(client) is None  # the open session ends too
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 403
    assert "has been closed" in response.content.decode()


def test_the_providers_role_claim_grants_and_then_removes_the_dpo_role(
    sign_in_through_provider, client, member, dpo, oidc, caplog
):
    oidc.person("morgan", email=member.email, email_verified=True, roles=[DPO_VALUE, "something-else"])
    response, _ = sign_in_through_provider("morgan")
    member = get_user_model().objects.get(pk=member.pk)
    assert permissions.is_dpo(member)
    assert response["Location"] == reverse("dashboard:index")  # the DPO lands on their work
    identity = ExternalIdentity.objects.get(user=member)
    assert identity.provider_roles == "DPO"
    granted = identity.history.order_by("history_date", "history_id").last()
    assert granted.history_change_reason == "Sign-in, roles claim: granted DPO"
    assert granted.history_user == member
    assert "granted ['DPO']" in caplog.text

    client.logout()
    oidc.person("morgan", email=member.email, email_verified=True, roles=[AUDITOR_VALUE])
    response, _ = sign_in_through_provider("morgan")
    member = get_user_model().objects.get(pk=member.pk)
    assert not permissions.is_dpo(member) and permissions.is_auditor(member)
    assert response["Location"] == reverse("audit:history")
    reasons = list(
        ExternalIdentity.objects.get(user=member)
        .history.order_by("history_date", "history_id")
        .values_list("history_change_reason", flat=True)
    )
    assert reasons[-1] == "Sign-in, roles claim: granted Auditor; removed DPO"

    client.logout()
    oidc.person("morgan", email=member.email, email_verified=True)  # no roles claim at all
    sign_in_through_provider("morgan")
    member = get_user_model().objects.get(pk=member.pk)
    assert not member.groups.exists()
    # Each change is on the roles' own record too, as a change made on the roles page is.
    changes = list(RoleChange.objects.filter(user=member).order_by("pk").values_list("role", "action", "by"))
    assert changes == [
        ("DPO", "granted", None),
        ("Auditor", "granted", None),
        ("DPO", "removed", None),
        (
            "Auditor",
            "removed",
            None,
        ),
    ]


def test_the_providers_claim_cannot_remove_the_last_dpo(sign_in_through_provider, client, member, oidc):
    """The portal always keeps a DPO: the roles page refuses to remove the last one, and so
    does a sign-in whose claim no longer names them."""
    oidc.person("morgan", email=member.email, email_verified=True, roles=[DPO_VALUE])
    sign_in_through_provider("morgan")
    client.logout()
    oidc.person("morgan", email=member.email, email_verified=True, roles=[])
    sign_in_through_provider("morgan")
    assert permissions.is_dpo(get_user_model().objects.get(pk=member.pk))
    assert not RoleChange.objects.filter(user=member, action="removed").exists()


def test_roles_not_mapped_stay_as_the_portal_set_them(sign_in_through_provider, client, settings, auditor, oidc):
    settings.OIDC_ROLE_VALUES = {"DPO": [DPO_VALUE], "Auditor": []}
    oidc.person("amir", email=auditor.email, email_verified=True)
    sign_in_through_provider("amir")
    assert permissions.is_auditor(get_user_model().objects.get(pk=auditor.pk))


def test_a_groups_claim_sent_by_reference_changes_no_role(settings, dpo):
    # Entra ID sends "_claim_names" instead of a groups claim of more than 200 groups.
    settings.OIDC_ROLES_CLAIM = "groups"
    settings.OIDC_ROLE_VALUES = {"DPO": ["g-dpo"], "Auditor": []}
    claims = {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://graph"}}}
    assert identities.roles_from_claims(claims) is None
    assert identities.roles_from_claims({"groups": "g-dpo"}) == {"DPO": True}
    assert identities.roles_from_claims({"groups": ["g-other"]}) == {"DPO": False}


def test_a_locked_out_address_cannot_sign_in_through_the_provider_either(
    sign_in_through_provider, client, settings, member, oidc
):
    oidc.person("morgan", email=member.email, email_verified=True)
    for attempt in range(settings.AXES_ADDRESS_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": f"guess{attempt}", "password": "wrong"})
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert signed_in_user(client) is None


def test_a_session_from_the_provider_ends_at_the_absolute_lifetime(
    sign_in_through_provider, client, settings, member, oidc, time_machine
):
    settings.SESSION_ABSOLUTE_SECONDS = 600  # shorter than the idle limit, so only this one ends it
    oidc.person("morgan", email=member.email, email_verified=True)
    sign_in_through_provider("morgan")
    time_machine.move_to(timezone.now() + dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS - 60), tick=False)
    assert client.get(reverse("home")).status_code == 200
    time_machine.move_to(timezone.now() + dt.timedelta(seconds=120), tick=False)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_unreachable_provider_gets_a_clear_page(client, settings, oidc):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.OIDC_ISSUER = f"http://127.0.0.1:{closed_port}/o"
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 502
    assert "could not be reached" in response.content.decode()


def test_the_provider_is_asked_for_pkce_and_a_nonce(client, oidc):
    start = client.get("/oidc/authenticate/")
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"][0] and query["state"][0]
    assert query["redirect_uri"] == ["http://testserver/oidc/callback/"]
    assert start["Location"].startswith(f"{oidc.issuer}/authorize/")


def test_with_passwords_off_staff_still_sign_in_through_the_provider(
    sign_in_through_provider, client, settings, member, oidc
):
    settings.PASSWORD_SIGN_IN = False
    oidc.person("morgan", email=member.email, email_verified=True)
    response, _ = sign_in_through_provider("morgan")
    assert response.status_code == 302
    assert signed_in_user(client) == member


def test_a_forged_error_answer_does_not_sign_anyone_out(client, member, oidc):
    client.force_login(member)
    response = client.get("/oidc/callback/", {"error": "access_denied", "state": "not-ours"})
    assert response.status_code == 400
    assert signed_in_user(client) == member


def test_a_person_who_cancels_at_the_provider_is_told_and_not_signed_in(client, oidc):
    start = client.get("/oidc/authenticate/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    response = client.get("/oidc/callback/", {"error": "access_denied", "state": state})
    assert response.status_code == 400
    assert "did not complete the sign-in" in response.content.decode()
