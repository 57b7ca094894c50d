"""The DPO's staff pages (R14): the list, a person, closing and opening an account."""

import datetime as dt

import pytest

from attestations import services
from groups import staff
from groups.models import StaffProfile
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory, auditor_user
from tests.staff.conftest import DUE, PERIOD_END

pytestmark = pytest.mark.django_db


def _people(n: int, group):
    for i in range(n):
        person = UserFactory(username=f"person{i:03}", last_name=f"Person{i:03}")
        StaffProfile.objects.create(user=person, staff_number=f"S{i:03}")
        MembershipFactory(group=group, user=person)
        if i % 7 == 0:
            auditor_user(username=f"aud{i:03}")


@pytest.mark.parametrize("n", [3, 60])
def test_the_staff_list_runs_the_same_queries_however_many_people(client, dpo, n, django_assert_num_queries):
    group = ChatGroupFactory(name="Ops")
    _people(n, group)
    client.force_login(dpo)
    # The same nine with 3 people or 60 (50 a page): session, user, roles for the menu,
    # count, page, each page's roles and groups, groups whose admin left. (No save of the
    # session: it was renewed at sign-in, SESSION_REFRESH_SECONDS.)
    with django_assert_num_queries(9):
        response = client.get("/staff/")
    assert response.status_code == 200
    shown = response.context["page"].object_list
    assert len(shown) == min(50, n + n // 7 + 1 + 1 + 1)  # people, auditors, the DPO, the group's admin


def test_the_staff_list_shows_roles_groups_and_status_and_searches(client, dpo, group, member, admin_user):
    StaffProfile.objects.create(user=member, staff_number="S-77")
    staff.user_deactivate(user=admin_user, by=dpo, reason="Left")
    client.force_login(dpo)
    page = client.get("/staff/").content.decode()
    assert "Morgan Lee" in page and "Urgent Ops" in page and "DPO" in page and "Closed" in page
    assert "Groups whose admin has left" in page and f"/groups/{group.pk}/roles/" in page
    found = client.get("/staff/", {"q": "S-77"}).context["page"].object_list
    assert [p.username for p in found] == ["member"]
    found = client.get("/staff/", {"q": "morgan lee"}).context["page"].object_list
    assert [p.username for p in found] == ["member"]
    closed = client.get("/staff/", {"status": "closed"}).context["page"].object_list
    assert [p.username for p in closed] == ["groupadmin"]


def test_the_dpo_closes_an_account_from_the_staff_pages(client, dpo, group, member, admin_user):
    client.force_login(dpo)
    page = client.get(f"/staff/{member.pk}/").content.decode()
    assert f"/staff/{member.pk}/deactivate/" in page
    assert client.post(f"/staff/{member.pk}/deactivate/", {"reason": ""}).status_code == 200  # a reason is needed
    member.refresh_from_db()
    assert member.is_active
    response = client.post(f"/staff/{member.pk}/deactivate/", {"reason": "Moved to another force"}, follow=True)
    assert "account is closed; they left 1 group(s)" in response.content.decode()
    member.refresh_from_db()
    assert not member.is_active
    page = client.get(f"/staff/{member.pk}/").content.decode()
    assert "Moved to another force" in page and f"/staff/{member.pk}/reactivate/" in page
    response = client.post(f"/staff/{member.pk}/reactivate/", {"reason": "Came back"}, follow=True)
    assert "open again" in response.content.decode()


def test_closing_an_admin_names_the_groups_needing_one(client, dpo, group, admin_user):
    client.force_login(dpo)
    response = client.post(f"/staff/{admin_user.pk}/deactivate/", {"reason": "Left"}, follow=True)
    assert "Name a new admin for: Urgent Ops" in response.content.decode()


def test_a_leavers_week_shows_as_left_on_the_dashboard(client, dpo, group, member, admin_user, at):
    at(PERIOD_END + dt.timedelta(minutes=1))
    services.cycle_close_due()
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    at(DUE + dt.timedelta(hours=1))
    client.force_login(dpo)
    left = client.get("/dashboard/clear-downs/", {"bucket": "left"})
    assert left.status_code == 200
    assert "Morgan Lee" in left.content.decode()
    overdue = client.get("/dashboard/clear-downs/", {"bucket": "overdue"}).content.decode()
    assert "Morgan Lee" not in overdue and "Grace Adeyemi" in overdue


def test_superusers_have_no_staff_page(client, dpo):
    it = UserFactory(username="it", is_superuser=True)
    client.force_login(dpo)
    assert client.get(f"/staff/{it.pk}/").status_code == 404
    assert client.post(f"/staff/{it.pk}/deactivate/", {"reason": "x"}).status_code == 404


def test_a_person_closed_by_the_directory_shows_who_did_it(client, dpo, member):
    staff.user_deactivate(user=member, by=None, reason="Closed by the directory (SCIM)")
    client.force_login(dpo)
    page = client.get(f"/staff/{member.pk}/").content.decode()
    assert "Closed by the directory (SCIM)" in page and "the directory or an import" in page
