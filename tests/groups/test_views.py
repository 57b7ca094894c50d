"""Register pages for every role, with bad input answered and nothing saved."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from groups.models import ChatGroup, Membership
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "member", "outsider", "admin_user", "dpo", "auditor"]


def client_for(client, request, role):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    return client


def page_urls(group, membership):
    return {
        "register": reverse("groups:register"),
        "propose": reverse("groups:propose"),
        "detail": reverse("groups:detail", args=[group.pk]),
        "edit": reverse("groups:edit", args=[group.pk]),
        "approve": reverse("groups:transition", args=[group.pk, "suspend"]),
        "member_add": reverse("groups:member_add", args=[group.pk]),
        "member_remove": reverse("groups:member_remove", args=[group.pk, membership.pk]),
        "roles": reverse("groups:roles", args=[group.pk]),
        "history": reverse("groups:history", args=[group.pk]),
    }


# Expected GET status per page and role, for an approved group.
GET_MATRIX = {
    #               anonymous member outsider admin dpo auditor
    "register": (302, 200, 200, 200, 200, 200),
    "propose": (302, 200, 200, 200, 200, 403),
    "detail": (302, 200, 200, 200, 200, 200),
    "edit": (302, 403, 403, 200, 200, 403),
    "approve": (302, 403, 403, 403, 200, 403),
    "member_add": (302, 403, 403, 200, 200, 403),
    "member_remove": (302, 403, 403, 200, 200, 403),
    "roles": (302, 403, 403, 200, 200, 403),
    "history": (302, 403, 403, 200, 200, 200),
}


@pytest.mark.parametrize("page", GET_MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_it_gives_each_role_only_its_pages(client, request, group, member, page, role):
    membership = Membership.objects.get(group=group, user=member)
    url = page_urls(group, membership)[page]
    response = client_for(client, request, role).get(url)
    expected = GET_MATRIX[page][ROLES.index(role)]
    assert response.status_code == expected, (page, role)
    if expected == 302:
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("page", ["edit", "approve", "member_add", "member_remove", "roles", "propose"])
def test_auditors_change_nothing(client, auditor, group, member, page):
    membership = Membership.objects.get(group=group, user=member)
    client.force_login(auditor)
    before = (ChatGroup.history.count(), Membership.history.count())
    response = client.post(
        page_urls(group, membership)[page], {"name": "X", "purpose": "Y", "reason": "Z", "user": member.pk}
    )
    assert response.status_code == 403
    assert (ChatGroup.history.count(), Membership.history.count()) == before


@pytest.mark.parametrize(
    "role, expected", [("member", 404), ("outsider", 404), ("admin_user", 200), ("dpo", 200), ("auditor", 200)]
)
def test_a_proposal_is_visible_only_to_its_admin_the_dpo_and_auditors(client, request, proposal, role, expected):
    response = client_for(client, request, role).get(reverse("groups:detail", args=[proposal.pk]))
    assert response.status_code == expected


def test_outsiders_and_members_see_no_management_controls(client, group, member, outsider):
    for person in (member, outsider):
        client.force_login(person)
        body = client.get(reverse("groups:detail", args=[group.pk])).content.decode()
        assert "Add members" not in body and "Edit details" not in body and "Remove" not in body
        assert "DPO decisions" not in body


def test_the_admin_sees_management_controls_and_the_dpo_sees_decisions(client, group, admin_user, dpo):
    client.force_login(admin_user)
    body = client.get(reverse("groups:detail", args=[group.pk])).content.decode()
    assert "Add members" in body and "DPO decisions" not in body
    client.force_login(dpo)
    body = client.get(reverse("groups:detail", args=[group.pk])).content.decode()
    assert "DPO decisions" in body and "Suspend" in body and "Retire" in body


# --- register list -------------------------------------------------------------------


def test_the_register_searches_name_and_purpose_and_filters_status(client, member):
    ChatGroupFactory(name="Comms On-Call", purpose="Media rota")
    ChatGroupFactory(name="Estates", purpose="Office move", status="suspended")
    ChatGroupFactory(name="Hidden Proposal", purpose="Media plan", status="proposed")
    client.force_login(member)
    body = client.get(reverse("groups:register"), {"q": "media"}).content.decode()
    assert "Comms On-Call" in body and "Estates" not in body and "Hidden Proposal" not in body
    body = client.get(reverse("groups:register"), {"status": "suspended"}).content.decode()
    assert "Estates" in body and "Comms On-Call" not in body
    body = client.get(reverse("groups:register"), {"status": "nonsense", "q": "x" * 500}).content.decode()
    assert "No groups match" in body


def test_the_register_shows_member_counts_admin_and_status(client, group, member):
    client.force_login(member)
    response = client.get(reverse("groups:register"))
    row = next(g for g in response.context["page"].object_list if g.pk == group.pk)
    assert row.member_count == 2
    assert "Approved" in response.content.decode()


@pytest.mark.parametrize("n", [5, 40])
def test_the_register_query_count_stays_flat(client, member, django_assert_num_queries, n):
    for _ in range(n):
        MembershipFactory(group=ChatGroupFactory())
    client.force_login(member)
    client.get(reverse("groups:register"))  # warm the session
    # session, user, the user's two permission lookups (menus), whether they run a group
    # (the Dashboard link), count, one page of groups. No save of the session: renewed at most
    # once in SESSION_REFRESH_SECONDS, and it was at sign-in.
    with django_assert_num_queries(7):
        client.get(reverse("groups:register"))


# --- propose -------------------------------------------------------------------------


def logo(content=None, name="logo.png"):
    if content is None:
        out = io.BytesIO()
        Image.new("RGB", (32, 32), (0, 80, 160)).save(out, format="PNG")
        content = out.getvalue()
    return SimpleUploadedFile(name, content, content_type="image/png")


def test_a_member_proposes_a_group_and_becomes_its_admin(client, member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(member)
    response = client.post(
        reverse("groups:propose"),
        {
            "name": "Urgent Ops",
            "purpose": "Rota changes",
            "logo": logo(),
            "cycle_weekday": 4,
            "cycle_time": "17:00",
        },
    )
    group = ChatGroup.objects.get()
    assert response.status_code == 302 and response["Location"] == group.get_absolute_url()
    assert group.admin == member and group.status == "proposed" and group.logo
    body = client.get(group.get_absolute_url()).content.decode()
    assert "has been proposed" in body


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"name": "Ops", "purpose": "   "}, "purpose", "business purpose"),
        ({"name": "   ", "purpose": "x"}, "name", "name"),
        ({"name": "x" * 101, "purpose": "x"}, "name", "at most 100 characters"),
        ({"name": "Ops", "purpose": "x" * 2001}, "purpose", "at most 2000 characters"),
        ({"name": "Ops", "purpose": "x", "cycle_weekday": 9}, "cycle_weekday", "valid choice"),
        ({"name": "Ops", "purpose": "x", "cycle_time": "25:99"}, "cycle_time", "valid time"),
        ({"name": "Ops", "purpose": "x", "logo": "not-a-file"}, None, None),
    ],
)
def test_bad_proposals_get_a_message_beside_the_field_and_save_nothing(client, member, data, field, message):
    client.force_login(member)
    payload = {"cycle_weekday": 4, "cycle_time": "17:00", **data}
    response = client.post(reverse("groups:propose"), payload)
    if field is None:  # a text value posted as the logo is simply no file
        assert ChatGroup.objects.count() == 1
        return
    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    assert "There is a problem" in response.content.decode()
    assert not ChatGroup.objects.exists()


def test_a_duplicate_name_is_refused_beside_the_field(client, member):
    ChatGroupFactory(name="Urgent Ops")
    client.force_login(member)
    response = client.post(
        reverse("groups:propose"), {"name": "URGENT OPS", "purpose": "x", "cycle_weekday": 4, "cycle_time": "17:00"}
    )
    assert "already on the register" in str(response.context["form"].errors["name"])
    assert ChatGroup.objects.count() == 1


@pytest.mark.parametrize(
    "content, message",
    [
        (b"%PDF-1.4 not an image", "PNG or JPEG"),
        (b"<svg onload='alert(1)'></svg>", "PNG or JPEG"),
    ],
)
def test_a_bad_logo_is_refused_beside_the_field(client, member, content, message, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(member)
    response = client.post(
        reverse("groups:propose"),
        {
            "name": "Ops",
            "purpose": "x",
            "cycle_weekday": 4,
            "cycle_time": "17:00",
            "logo": logo(content),
        },
    )
    assert message in str(response.context["form"].errors["logo"])
    assert not ChatGroup.objects.exists()
    assert not list(tmp_path.rglob("*"))


def test_an_oversized_logo_is_refused(client, member, settings):
    settings.LOGO_MAX_BYTES = 10
    client.force_login(member)
    response = client.post(
        reverse("groups:propose"),
        {
            "name": "Ops",
            "purpose": "x",
            "cycle_weekday": 4,
            "cycle_time": "17:00",
            "logo": logo(),
        },
    )
    assert response.context["form"].errors["logo"] == ["The logo is 1 KB; the limit is 10 bytes."]
    assert not ChatGroup.objects.exists()


# --- DPO decisions -------------------------------------------------------------------


def test_the_dpo_approves_a_proposal_with_a_reason(client, dpo, proposal):
    client.force_login(dpo)
    url = reverse("groups:transition", args=[proposal.pk, "approve"])
    response = client.post(url, {"reason": ""})
    assert "Give a reason" in str(response.context["form"].errors["reason"])
    response = client.post(url, {"reason": "Meets the policy"})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "approved" and proposal.approved_by == dpo


def test_the_cap_is_explained_to_the_dpo(client, dpo, proposal, settings):
    settings.MAX_APPROVED_GROUPS = 1
    ChatGroupFactory(status="approved")
    client.force_login(dpo)
    response = client.post(reverse("groups:transition", args=[proposal.pk, "approve"]), {"reason": "OK"})
    assert response.status_code == 200
    assert "the limit set by policy (1)" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "proposed"


def test_an_illegal_transition_is_explained(client, dpo):
    retired = ChatGroupFactory(status="retired")
    client.force_login(dpo)
    url = reverse("groups:transition", args=[retired.pk, "approve"])
    assert "cannot be approved" in client.get(url).content.decode()
    response = client.post(url, {"reason": "Try"})
    assert "cannot be approved" in response.content.decode()
    retired.refresh_from_db()
    assert retired.status == "retired"


def test_an_unknown_action_is_not_found(client, dpo, group):
    client.force_login(dpo)
    assert client.get(f"/groups/{group.pk}/status/delete/").status_code == 404


def test_an_unknown_group_is_not_found(client, dpo):
    client.force_login(dpo)
    assert client.get(reverse("groups:detail", args=[999999])).status_code == 404


# --- membership ----------------------------------------------------------------------


def test_the_admin_finds_a_colleague_and_adds_them(client, admin_user, group):
    colleague = UserFactory(username="jbloggs", first_name="Jo", last_name="Bloggs")
    client.force_login(admin_user)
    url = reverse("groups:member_add", args=[group.pk])
    response = client.get(url, {"q": "blog"})
    assert list(response.context["results"]) == [colleague]
    response = client.post(url, {"user": colleague.pk})
    assert response.status_code == 302
    assert Membership.objects.active().filter(group=group, user=colleague).exists()


def test_the_staff_search_leaves_out_current_members_and_disabled_accounts(client, admin_user, group, member):
    UserFactory(username="morganx", first_name="Morgan", is_active=False)
    client.force_login(admin_user)
    response = client.get(reverse("groups:member_add", args=[group.pk]), {"q": "morgan"})
    assert list(response.context["results"]) == []
    assert "Nobody matches" in response.content.decode()


def test_an_overlong_staff_search_says_why_it_found_nothing(client, admin_user, group):
    client.force_login(admin_user)
    response = client.get(reverse("groups:member_add", args=[group.pk]), {"q": "morgan " * 20})
    assert response.status_code == 200 and response.context["results"] == []
    body = response.content.decode()
    assert 'id="q-error"' in body and "Search with at most 100 characters" in body
    assert 'aria-describedby="q-help q-error"' in body and 'aria-invalid="true"' in body


@pytest.mark.parametrize("value", ["", "abc", "999999"])
def test_adding_an_unknown_person_is_refused(client, admin_user, group, value):
    client.force_login(admin_user)
    response = client.post(reverse("groups:member_add", args=[group.pk]), {"user": value})
    assert response.status_code == 200
    assert response.context["form"].errors["user"]
    assert Membership.objects.filter(group=group).count() == 2


def test_adding_a_member_twice_is_refused(client, admin_user, group, member):
    client.force_login(admin_user)
    response = client.post(reverse("groups:member_add", args=[group.pk]), {"user": member.pk})
    assert "already a member" in response.content.decode()
    assert Membership.objects.filter(group=group, user=member).count() == 1


def test_the_admin_removes_a_member_after_confirming(client, admin_user, group, member):
    membership = Membership.objects.get(group=group, user=member)
    client.force_login(admin_user)
    url = reverse("groups:member_remove", args=[group.pk, membership.pk])
    assert "Remove Morgan Lee" in client.get(url).content.decode()
    membership.refresh_from_db()
    assert membership.is_active  # GET changes nothing
    assert client.post(url).status_code == 302
    membership.refresh_from_db()
    assert not membership.is_active
    body = client.get(reverse("groups:detail", args=[group.pk])).content.decode()
    assert "Past members (1)" in body


def test_removing_the_admin_is_refused_with_a_message(client, admin_user, group):
    membership = Membership.objects.get(group=group, user=admin_user)
    client.force_login(admin_user)
    response = client.post(reverse("groups:member_remove", args=[group.pk, membership.pk]))
    assert response.status_code == 200
    assert "Hand the admin role to another member" in response.content.decode()
    membership.refresh_from_db()
    assert membership.is_active


def test_a_membership_of_another_group_is_not_found(client, admin_user, group):
    other = MembershipFactory()
    client.force_login(admin_user)
    assert client.get(reverse("groups:member_remove", args=[group.pk, other.pk])).status_code == 404


def test_the_admin_hands_over_and_names_a_deputy(client, admin_user, group, member):
    client.force_login(admin_user)
    url = reverse("groups:roles", args=[group.pk])
    assert client.post(url, {"deputy-user": member.pk}).status_code == 302
    group.refresh_from_db()
    assert group.deputy == member
    assert client.post(url, {"deputy-user": ""}).status_code == 302
    group.refresh_from_db()
    assert group.deputy is None
    response = client.post(url, {"admin-user": UserFactory().pk})
    assert response.status_code == 200 and response.context["admin_form"].errors
    assert client.post(url, {"admin-user": member.pk}).status_code == 302
    group.refresh_from_db()
    assert group.admin == member


def test_the_admin_edits_details(client, admin_user, proposal):
    client.force_login(admin_user)
    url = reverse("groups:edit", args=[proposal.pk])
    response = client.post(
        url, {"name": "New Idea", "purpose": "New purpose", "cycle_weekday": 0, "cycle_time": "09:30"}
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.purpose == "New purpose" and proposal.cycle_weekday == 0 and proposal.cycle_time.hour == 9


# --- history -------------------------------------------------------------------------


def test_the_history_page_shows_field_changes_with_who_and_why(client, dpo, proposal, admin_user):
    client.force_login(dpo)
    client.post(reverse("groups:transition", args=[proposal.pk, "approve"]), {"reason": "Meets the policy"})
    response = client.get(reverse("groups:history", args=[proposal.pk]))
    body = response.content.decode()
    assert "Approve: Meets the policy" in body
    change = next(e for e in response.context["page"].object_list if e["changes"])
    fields = {c["field"]: (c["old"], c["new"]) for c in change["changes"]}
    assert fields["status"] == ("Proposed", "Approved")
    assert fields["approved by"] == ("—", "Dana Price")
    assert change["who"] == dpo


def test_the_history_page_records_membership_changes(client, admin_user, group, member):
    client.force_login(admin_user)
    client.post(reverse("groups:member_remove", args=[group.pk, Membership.objects.get(user=member).pk]))
    body = client.get(reverse("groups:history", args=[group.pk])).content.decode()
    assert "Membership changed: Morgan Lee" in body and "Removed" in body


@pytest.mark.parametrize("n", [2, 20])
def test_the_history_query_count_stays_flat(client, dpo, group, admin_user, django_assert_num_queries, n):
    from groups import services

    for _ in range(n):
        services.membership_add(group=group, user=UserFactory(), by=admin_user)
    client.force_login(dpo)
    client.get(reverse("groups:history", args=[group.pk]))
    with django_assert_num_queries(8):  # 7, and the group's hold in force for the banner
        client.get(reverse("groups:history", args=[group.pk]))


def test_the_register_search_survives_a_nul_character(client, member, group):
    # PostgreSQL refuses NUL in text: a search containing one must not become a server error.
    client.force_login(member)
    response = client.get(reverse("groups:register"), {"q": "Urgent\x00"})
    assert response.status_code == 200 and "Urgent Ops" in response.content.decode()


def test_an_uploaded_logo_is_served_as_png_only_to_those_who_may_see_the_group(
    client, member, outsider, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(member)
    client.post(
        reverse("groups:propose"),
        {"name": "Ops", "purpose": "x", "cycle_weekday": 4, "cycle_time": "17:00", "logo": logo()},
    )
    group = ChatGroup.objects.get(name="Ops")
    assert group.logo_url.startswith(reverse("groups:logo", args=[group.pk]) + "?v=")
    response = client.get(group.logo_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    client.force_login(outsider)  # a proposal is not visible to outsiders, nor its logo
    assert client.get(group.logo_url).status_code == 404
    client.logout()
    assert client.get(group.logo_url).status_code == 302
