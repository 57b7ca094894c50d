"""Who sees the dashboard: the DPO and auditors everything, group admins their groups, others 403.

The emails page is the whole office's record of emails: the DPO's and auditors' only.
"""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "member", "outsider", "admin_user", "dpo", "auditor"]


def client_for(client, request, role):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    return client


def pages(office, member):
    return {
        "index": reverse("dashboard:index"),
        "trend": reverse("dashboard:trend_svg"),
        "csv": reverse("dashboard:groups_csv"),
        "group": reverse("dashboard:group", args=[office.a.pk]),
        "person": reverse("dashboard:person", args=[member.pk]),
        "people": reverse("dashboard:people"),
        "obligations": reverse("dashboard:obligations") + "?latest=1&bucket=overdue",
        "flags": reverse("dashboard:flags"),
        "emails": reverse("dashboard:emails") + "?status=failed",
    }


DPO_AND_AUDITORS_ONLY = {"emails"}


@pytest.mark.parametrize(
    "page", ["index", "trend", "csv", "group", "person", "people", "obligations", "flags", "emails"]
)
@pytest.mark.parametrize("role", ROLES)
def test_it_gives_each_role_only_what_it_may_see(client, request, office, member, role, page):
    url = pages(office, member)[page]
    response = client_for(client, request, role).get(url)
    expected = {"anonymous": 302, "member": 403, "outsider": 403}.get(role, 200)
    if page in DPO_AND_AUDITORS_ONLY and role == "admin_user":
        expected = 403
    assert response.status_code == expected, (role, page)
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))


def test_it_refuses_to_change_anything(client, dpo, office):
    client.force_login(dpo)
    assert client.post(reverse("dashboard:index")).status_code == 405


def test_it_shows_a_group_admin_only_their_groups(client, admin_user, office):
    client.force_login(admin_user)
    page = client.get(reverse("dashboard:index")).content.decode()
    assert "Urgent Ops" in page and "Comms On-Call" not in page and "Estates Project" not in page
    assert "The groups you run" in page and "allowed" not in page  # the cap is the DPO's business
    assert client.get(reverse("dashboard:group", args=[office.b.pk])).status_code == 404
    assert client.get(reverse("dashboard:person", args=[office.quinn.pk])).status_code == 404
    assert client.get(reverse("dashboard:obligations") + f"?group={office.b.pk}").status_code == 404
    csv_text = b"".join(client.get(reverse("dashboard:groups_csv")).streaming_content).decode()
    assert "Urgent Ops" in csv_text and "Comms On-Call" not in csv_text


def test_a_deputy_sees_the_groups_they_deputise(client, office, outsider):
    office.b.deputy = outsider
    office.b.save()
    client.force_login(outsider)
    page = client.get(reverse("dashboard:index")).content.decode()
    assert "Comms On-Call" in page and "Urgent Ops" not in page


@pytest.mark.parametrize(("role", "shown"), [("member", False), ("admin_user", True), ("dpo", True), ("auditor", True)])
def test_it_puts_the_dashboard_in_the_menu_for_those_who_may_see_it(client, request, office, role, shown):
    client.force_login(request.getfixturevalue(role))
    page = client.get(reverse("home")).content.decode()
    assert (f'href="{reverse("dashboard:index")}">Dashboard</a>' in page) is shown


def test_the_menu_link_costs_a_member_no_more_than_an_admin(client, request, office):
    """Whether a person gets the link is one EXISTS per page, the same for a member as for an admin."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for role in ("member", "admin_user"):
        client.force_login(request.getfixturevalue(role))
        client.get(reverse("groups:register"))
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("groups:register")).content.decode()
        counts[role] = len(queries)
        assert ('">Dashboard</a>' in page) is (role == "admin_user")
    assert counts["member"] == counts["admin_user"]
