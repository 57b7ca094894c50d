"""The DPO and Auditor roles, given and removed on the portal's page with a reason (R14)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from groups import permissions, staff
from groups.models import RoleChange
from tests.conftest import run_at_once, service_missing
from tests.factories import dpo_user


@pytest.mark.django_db
def test_the_dpo_gives_and_removes_a_role_with_a_reason_kept_in_history(dpo, member):
    staff.role_grant(user=member, role="auditor", by=dpo, reason="Internal audit, Q1")
    assert permissions.is_auditor(type(member).objects.get(pk=member.pk))
    staff.role_remove(user=member, role="auditor", by=dpo, reason="Audit finished")
    assert not permissions.is_auditor(type(member).objects.get(pk=member.pk))
    assert list(RoleChange.objects.order_by("at", "pk").values_list("role", "action", "by__username", "reason")) == [
        ("Auditor", "granted", "dpo", "Internal audit, Q1"),
        ("Auditor", "removed", "dpo", "Audit finished"),
    ]


@pytest.mark.django_db
def test_only_the_dpo_changes_roles_and_always_with_a_reason(dpo, auditor, member):
    with pytest.raises(PermissionDenied):
        staff.role_grant(user=member, role="dpo", by=auditor, reason="Please")
    with pytest.raises(ValidationError, match="Give a reason"):
        staff.role_grant(user=member, role="dpo", by=dpo, reason="")
    with pytest.raises(ValidationError, match="DPO or the Auditor"):
        staff.role_grant(user=member, role="superuser", by=dpo, reason="x")
    with pytest.raises(ValidationError, match="already has the DPO role"):
        staff.role_grant(user=dpo, role="dpo", by=dpo, reason="x")
    with pytest.raises(ValidationError, match="does not have the Auditor role"):
        staff.role_remove(user=member, role="auditor", by=dpo, reason="x")
    assert not RoleChange.objects.exists()


@pytest.mark.django_db
def test_the_last_dpo_cannot_be_removed(dpo):
    with pytest.raises(ValidationError, match="only DPO"):
        staff.role_remove(user=dpo, role="dpo", by=dpo, reason="Stepping down")
    assert permissions.is_dpo(type(dpo).objects.get(pk=dpo.pk))


@pytest.mark.django_db
def test_a_closed_account_gets_no_role(dpo, member):
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    with pytest.raises(ValidationError, match="closed"):
        staff.role_grant(user=member, role="auditor", by=dpo, reason="x")


@pytest.mark.django_db
def test_the_roles_page_gives_a_role_and_refuses_the_last_dpo(client, dpo, member):
    client.force_login(dpo)
    response = client.post(
        "/staff/roles/", {"person": "MEMBER@example.org", "role": "dpo", "action": "grant", "reason": "Cover"}
    )
    assert response.status_code == 302
    assert permissions.is_dpo(type(member).objects.get(pk=member.pk))
    page = client.get("/staff/roles/").content.decode()
    assert "Morgan Lee" in page and "Cover" in page
    staff.role_remove(user=member, role="dpo", by=dpo, reason="Cover over")
    refused = client.post("/staff/roles/", {"person": "dpo", "role": "dpo", "action": "remove", "reason": "Bye"})
    assert refused.status_code == 200
    assert "the portal&#x27;s only DPO" in refused.content.decode()
    unknown = client.post("/staff/roles/", {"person": "nobody", "role": "dpo", "action": "grant", "reason": "x"})
    assert "No account has this user name or email" in unknown.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_closed", [False, True], ids=["both-remove", "one-closed"])
def test_two_changes_at_once_never_leave_the_portal_without_a_dpo(first_closed):
    """Two DPOs removing each other at once, or one closed while the other loses the role."""
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL for concurrent transactions (set DATABASE_URL)")
    first, second = dpo_user(username="dpo1"), dpo_user(username="dpo2")

    def change_first():
        if first_closed:
            staff.user_deactivate(user=first, by=None, reason="Left")
        else:
            staff.role_remove(user=first, role="dpo", by=second, reason="b")

    outcomes = run_at_once(change_first, lambda: staff.role_remove(user=second, role="dpo", by=first, reason="a"))
    assert outcomes.count("ok") == 1
    assert type(first).objects.filter(groups__name="DPO", is_active=True).count() == 1
