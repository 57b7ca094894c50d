"""SCIM 2.0 provisioning (R14): the directory creates, updates and closes accounts with its token."""

import datetime as dt
import json

import pytest
from django.test import Client

from attestations import services
from attestations.models import Flag, Obligation
from groups.models import Membership, StaffProfile
from groups.scim import ERROR_SCHEMA, LIST_SCHEMA, PATCH_SCHEMA
from tests.factories import UserFactory
from tests.staff.conftest import DUE, SCIM_TOKEN

pytestmark = pytest.mark.django_db

ENTRA_USER = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "externalId": "6f1c9a0e-2b7d-4c55-9a1e-000000000001",
    "userName": "sam.jones@office.example",
    "active": True,
    "displayName": "Sam Jones",
    "emails": [{"primary": True, "type": "work", "value": "sam.jones@office.example"}],
    "name": {"formatted": "Sam Jones", "familyName": "Jones", "givenName": "Sam"},
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "10042"},
}


def _patch(*operations):
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": SCIM_TOKEN}, {"Authorization": f"Basic {SCIM_TOKEN}"}],
)
def test_it_refuses_a_missing_or_wrong_token_with_401_and_nothing_else(client, settings, member, headers):
    settings.SCIM_TOKEN = SCIM_TOKEN
    for method, path in (
        ("get", "Users"),
        ("get", f"Users/{member.pk}"),
        ("post", "Users"),
        ("delete", f"Users/{member.pk}"),
    ):
        response = getattr(client, method)(f"/scim/v2/{path}", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["schemas"] == [ERROR_SCHEMA] and body["status"] == "401"
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert member.username not in response.content.decode()
    member.refresh_from_db()
    assert member.is_active


def test_a_signed_in_dpo_without_the_token_gets_401(client, settings, dpo):
    settings.SCIM_TOKEN = SCIM_TOKEN
    client.force_login(dpo)
    assert client.get("/scim/v2/Users").status_code == 401


def test_it_does_not_exist_without_a_token_in_the_settings(client, settings, member):
    settings.SCIM_TOKEN = ""
    assert client.get("/scim/v2/Users", headers={"Authorization": "Bearer "}).status_code == 404
    assert client.get(f"/scim/v2/Users/{member.pk}", headers={"Authorization": "Bearer "}).status_code == 404


def test_the_directory_creates_a_user_and_finds_them_again(scim):
    response = scim.call("POST", "Users", ENTRA_USER)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["userName"] == "sam.jones@office.example"
    assert body["externalId"] == ENTRA_USER["externalId"]
    assert body["active"] is True
    assert response["Location"].endswith(f"/scim/v2/Users/{body['id']}")
    profile = StaffProfile.objects.get(external_id=ENTRA_USER["externalId"])
    assert (profile.staff_number, profile.user.email, profile.user.get_full_name()) == (
        "10042",
        "sam.jones@office.example",
        "Sam Jones",
    )
    assert not profile.user.has_usable_password()

    found = scim.call("GET", 'Users?filter=userName eq "SAM.JONES@office.example"').json()
    assert found["schemas"] == [LIST_SCHEMA]
    assert (found["totalResults"], found["Resources"][0]["id"]) == (1, body["id"])
    by_external = scim.call("GET", f'Users?filter=externalId eq "{ENTRA_USER["externalId"]}"').json()
    assert by_external["totalResults"] == 1
    assert scim.call("GET", 'Users?filter=userName eq "nobody@office.example"').json()["totalResults"] == 0
    # Matching on the work email finds accounts made by hand before provisioning began.
    by_email = scim.call("GET", 'Users?filter=emails[type eq "work"].value eq "Sam.Jones@office.example"').json()
    assert by_email["totalResults"] == 1
    assert scim.call("GET", f"Users/{body['id']}").json()["userName"] == "sam.jones@office.example"


def test_a_second_user_with_the_same_name_is_a_uniqueness_conflict(scim):
    assert scim.call("POST", "Users", ENTRA_USER).status_code == 201
    again = scim.call("POST", "Users", {**ENTRA_USER, "externalId": "other"})
    assert again.status_code == 409
    assert again.json()["scimType"] == "uniqueness"


@pytest.mark.parametrize(
    ("query", "scim_type"),
    [
        ('filter=userName co "sam"', "invalidFilter"),
        ('filter=password eq "x"', "invalidFilter"),
        ("count=x", "invalidValue"),
    ],
)
def test_bad_queries_get_scim_errors(scim, query, scim_type):
    response = scim.call("GET", f"Users?{query}")
    assert response.status_code == 400
    assert response.json()["scimType"] == scim_type


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ("not json", "invalidSyntax"),
        ({"userName": "", "emails": []}, "invalidValue"),
        ({"userName": "x@office.example", "active": "maybe"}, "invalidValue"),
        ({"userName": "no-address"}, "invalidValue"),
    ],
)
def test_bad_bodies_get_scim_errors_and_create_nothing(scim, body, scim_type, django_user_model):
    before = django_user_model.objects.count()
    if isinstance(body, str):
        response = Client().post(
            "/scim/v2/Users", data=body, content_type="application/scim+json", headers=scim.headers
        )
    else:
        response = scim.call("POST", "Users", body)
    assert response.status_code == 400
    assert response.json()["scimType"] == scim_type
    assert django_user_model.objects.count() == before


def test_an_unknown_user_is_a_scim_404(scim):
    response = scim.call("GET", "Users/999999")
    assert response.status_code == 404
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert scim.call("GET", "Users/abc").status_code == 404


def test_superusers_are_outside_scims_reach(scim):
    it = UserFactory(username="it", is_superuser=True, is_staff=True)
    assert scim.call("GET", f"Users/{it.pk}").status_code == 404
    assert scim.call("GET", 'Users?filter=userName eq "it"').json()["totalResults"] == 0


def test_patch_updates_the_name_and_email_as_entra_sends_them(scim):
    pk = scim.call("POST", "Users", ENTRA_USER).json()["id"]
    response = scim.call(
        "PATCH",
        f"Users/{pk}",
        _patch(
            {"op": "Replace", "path": "name.familyName", "value": "Jones-Smith"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "sam.js@office.example"},
            {
                "op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                "value": "20042",
            },
        ),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"]["familyName"] == "Jones-Smith"
    assert body["emails"][0]["value"] == "sam.js@office.example"
    assert StaffProfile.objects.get(user_id=pk).staff_number == "20042"


def test_put_replaces_the_user(scim):
    pk = scim.call("POST", "Users", ENTRA_USER).json()["id"]
    response = scim.call("PUT", f"Users/{pk}", {**ENTRA_USER, "name": {"givenName": "Samuel", "familyName": "Jones"}})
    assert response.status_code == 200
    assert response.json()["name"]["givenName"] == "Samuel"


def test_a_user_closed_by_a_scim_call_is_out_of_every_group_with_nothing_left_on_them(
    scim, closed_week, group, admin_user, member, dpo, at, smtp_server, django_capture_on_commit_callbacks
):
    """The issue's test: the admin leaves through the directory after their week's deadline."""
    at(DUE + dt.timedelta(minutes=15))
    services.flags_raise(now=DUE + dt.timedelta(minutes=15))
    assert Flag.objects.filter(user=admin_user, resolved_at__isnull=True).count() == 2  # overdue, prompt missed
    with django_capture_on_commit_callbacks(execute=True):
        response = scim.call(
            "PATCH", f"Users/{admin_user.pk}", _patch({"op": "Replace", "path": "active", "value": "False"})
        )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    admin_user.refresh_from_db()
    assert not admin_user.is_active
    assert not Membership.objects.active().filter(user=admin_user).exists()
    assert not Obligation.objects.filter(user=admin_user, status="pending").exists()
    assert not Flag.objects.filter(user=admin_user, resolved_at__isnull=True).exists()
    profile = StaffProfile.objects.get(user=admin_user)
    assert profile.deactivated_by is None
    assert profile.deactivation_reason == "Closed by the directory (SCIM)"
    # The DPO is told, through the real mail server, with the link to hand the group over.
    [message] = smtp_server.messages
    assert message["To"] == dpo.email
    assert f"/groups/{group.pk}/roles/" in message.get_body(("plain",)).get_content()
    # The member who stays still owes.
    assert Obligation.objects.get(user=member).status == "pending"
    # The same call again changes nothing.
    again = scim.call("PATCH", f"Users/{admin_user.pk}", _patch({"op": "replace", "value": {"active": False}}))
    assert again.status_code == 200 and len(smtp_server.messages) == 1


def test_delete_closes_the_account_and_keeps_its_records(scim, group, member):
    assert scim.call("DELETE", f"Users/{member.pk}").status_code == 204
    member.refresh_from_db()
    assert not member.is_active
    assert Membership.objects.filter(user=member).exists()
    assert not Membership.objects.active().filter(user=member).exists()
    assert scim.call("DELETE", f"Users/{member.pk}").status_code == 204


def test_reactivating_through_scim_opens_the_account_without_its_groups(scim, group, member):
    scim.call("PATCH", f"Users/{member.pk}", _patch({"op": "replace", "path": "active", "value": False}))
    response = scim.call("PATCH", f"Users/{member.pk}", _patch({"op": "replace", "path": "active", "value": True}))
    assert response.json()["active"] is True
    assert not Membership.objects.active().filter(user=member).exists()


def test_the_last_dpo_is_not_closed_by_the_directory(scim, dpo):
    response = scim.call("PATCH", f"Users/{dpo.pk}", _patch({"op": "replace", "path": "active", "value": False}))
    assert response.status_code == 400
    assert "only DPO" in response.json()["detail"]
    dpo.refresh_from_db()
    assert dpo.is_active


def test_a_bad_patch_changes_nothing(scim, member):
    response = scim.call(
        "PATCH",
        f"Users/{member.pk}",
        _patch(
            {"op": "replace", "path": "name.givenName", "value": "Changed"},
            {"op": "explode", "path": "active", "value": False},
        ),
    )
    assert response.status_code == 400
    member.refresh_from_db()
    assert (member.first_name, member.is_active) == ("Morgan", True)
    assert scim.call("PATCH", f"Users/{member.pk}", {"Operations": []}).status_code == 400


def test_service_provider_config_says_what_is_supported(scim, settings):
    body = scim.call("GET", "ServiceProviderConfig").json()
    assert body["meta"]["location"] == f"{settings.SITE_URL}/scim/v2/ServiceProviderConfig"
    assert body["patch"]["supported"] is True and body["bulk"]["supported"] is False
    assert json.dumps(body).count("oauthbearertoken") == 1
    assert scim.call("POST", "ServiceProviderConfig", {}).status_code == 405
