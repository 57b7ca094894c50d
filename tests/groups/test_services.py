"""Register services: every transition, legal and illegal, and every rule (R1–R3, R11)."""

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from groups import services
from groups.models import ChatGroup, Membership
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
Status = ChatGroup.Status


def png_bytes(width=64, height=64, fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 40, 80)).save(out, format=fmt)
    return out.getvalue()


# --- propose -------------------------------------------------------------------------


def test_it_makes_the_proposer_admin_and_first_member(member):
    group = services.chatgroup_propose(name="  Urgent   Ops ", purpose=" Rota changes ", by=member)
    assert group.status == Status.PROPOSED
    assert group.name == "Urgent Ops" and group.purpose == "Rota changes"
    assert group.admin == member and group.proposed_by == member
    assert list(Membership.objects.active().filter(group=group).values_list("user", flat=True)) == [member.pk]
    assert group.history.count() == 1 and group.history.first().history_user == member


@pytest.mark.parametrize("purpose", ["", "   ", "\n\t"])
def test_it_refuses_an_empty_purpose(member, purpose):
    with pytest.raises(ValidationError) as exc:
        services.chatgroup_propose(name="Ops", purpose=purpose, by=member)
    assert "purpose" in exc.value.error_dict
    assert not ChatGroup.objects.exists()


def test_it_refuses_a_duplicate_name_in_any_case(member):
    ChatGroupFactory(name="Urgent Ops")
    with pytest.raises(ValidationError) as exc:
        services.chatgroup_propose(name="urgent OPS", purpose="x", by=member)
    assert "already on the register" in str(exc.value)
    assert ChatGroup.objects.count() == 1


def test_it_refuses_an_overlong_name(member):
    with pytest.raises(ValidationError):
        services.chatgroup_propose(name="x" * 101, purpose="x", by=member)
    assert not ChatGroup.objects.exists()


@pytest.mark.parametrize(
    ("name", "purpose", "errors"),
    [
        ("", "x", {"name": ["Give the group a name."]}),
        ("x" * 101, "x", {"name": ["The name is too long (100 characters at most)."]}),
        ("Ops", "", {"purpose": ["Say what business purpose the group serves."]}),
        ("Ops", "x" * 2001, {"purpose": ["The purpose is too long (2000 characters at most)."]}),
    ],
)
def test_it_says_which_field_is_wrong_and_why(member, name, purpose, errors):
    with pytest.raises(ValidationError) as exc:
        services.chatgroup_propose(name=name, purpose=purpose, by=member)
    assert exc.value.message_dict == errors
    assert not ChatGroup.objects.exists()


def test_it_takes_a_name_and_a_purpose_at_their_limits(member):
    group = services.chatgroup_propose(name="x" * 100, purpose="y" * 2000, by=member)
    assert (len(group.name), len(group.purpose)) == (100, 2000)
    assert group.history.get().history_change_reason == "Proposed"


def test_it_stores_a_reencoded_png_logo_under_a_generated_name(member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    jpeg = SimpleUploadedFile("../../evil.php.jpg", png_bytes(fmt="JPEG"), content_type="image/jpeg")
    group = services.chatgroup_propose(name="Ops", purpose="x", by=member, logo=jpeg)
    assert group.logo.name.startswith("logos/") and group.logo.name.endswith(".png")
    assert "evil" not in group.logo.name
    with Image.open(group.logo.path) as stored:
        assert stored.format == "PNG"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"GIF89a" + b"\x00" * 100, "PNG or JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "PNG or JPEG"),
        (png_bytes(2001, 10), "2001×10 pixels"),
    ],
)
def test_it_refuses_a_bad_logo_and_saves_nothing(member, content, message, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("logo.png", content, content_type="image/png")
    with pytest.raises(ValidationError) as exc:
        services.chatgroup_propose(name="Ops", purpose="x", by=member, logo=upload)
    assert message in str(exc.value)
    assert not ChatGroup.objects.exists() and not Membership.objects.exists()
    assert not list(tmp_path.rglob("*.png"))


def test_it_refuses_a_logo_over_the_size_limit(member, settings):
    settings.LOGO_MAX_BYTES = 1000
    upload = SimpleUploadedFile("logo.png", png_bytes(400, 400) + b"\x00" * 2000, content_type="image/png")
    kilobytes = -(-upload.size // 1024)
    with pytest.raises(ValidationError) as exc:
        services.chatgroup_propose(name="Ops", purpose="x", by=member, logo=upload)
    assert exc.value.messages == [f"The logo is {kilobytes} KB; the limit is 1,000 bytes."]


# --- transitions ---------------------------------------------------------------------

LEGAL = [
    ("proposed", "approve", "approved"),
    ("approved", "suspend", "suspended"),
    ("suspended", "reinstate", "approved"),
    ("proposed", "retire", "retired"),
    ("approved", "retire", "retired"),
    ("suspended", "retire", "retired"),
]


@pytest.mark.parametrize("source, action, target", LEGAL)
def test_it_moves_a_group_through_its_lifecycle(dpo, time_machine, source, action, target):
    when = dt.datetime(2026, 11, 18, 10, tzinfo=dt.UTC)
    time_machine.move_to(when, tick=False)
    group = ChatGroupFactory(status=source)
    changed = services.chatgroup_transition(group=group, action=action, by=dpo, reason="Reviewed")
    changed.refresh_from_db()
    assert changed.status == target
    assert changed.status_reason == "Reviewed"
    last = changed.history.latest()
    assert last.history_user == dpo and "Reviewed" in last.history_change_reason
    # When it changed: a suspension or retirement ends the running clear-down period there (R13).
    assert changed.status_changed_at == when


ILLEGAL = [
    (source, action)
    for source in Status.values
    for action in services.TRANSITIONS
    if (source, action) not in {(s, a) for s, a, _ in LEGAL}
]


@pytest.mark.parametrize("source, action", ILLEGAL)
def test_it_refuses_illegal_transitions(dpo, source, action):
    group = ChatGroupFactory(status=source)
    with pytest.raises(ValidationError, match="cannot be"):
        services.chatgroup_transition(group=group, action=action, by=dpo, reason="Try")
    group.refresh_from_db()
    assert group.status == source


def test_it_records_who_approved_and_when(dpo):
    group = ChatGroupFactory(status="proposed")
    services.chatgroup_transition(group=group, action="approve", by=dpo, reason="OK")
    group.refresh_from_db()
    assert group.approved_by == dpo and group.approved_at is not None


@pytest.mark.parametrize("who", ["member", "admin_user", "auditor"])
def test_it_lets_only_the_dpo_change_status(request, who):
    group = ChatGroupFactory(status="proposed", admin=request.getfixturevalue("admin_user"))
    with pytest.raises(PermissionDenied):
        services.chatgroup_transition(group=group, action="approve", by=request.getfixturevalue(who), reason="x")
    group.refresh_from_db()
    assert group.status == "proposed"


def test_it_needs_a_reason(dpo):
    group = ChatGroupFactory(status="proposed")
    with pytest.raises(ValidationError, match="reason"):
        services.chatgroup_transition(group=group, action="approve", by=dpo, reason="   ")


def test_it_refuses_to_approve_past_the_cap(dpo, settings):
    settings.MAX_APPROVED_GROUPS = 2
    ChatGroupFactory.create_batch(2, status="approved")
    ChatGroupFactory(status="suspended")
    proposal = ChatGroupFactory(status="proposed")
    with pytest.raises(ValidationError, match=r"already has 2 approved groups.*\(2\)"):
        services.chatgroup_transition(group=proposal, action="approve", by=dpo, reason="x")
    suspended = ChatGroup.objects.get(status="suspended")
    with pytest.raises(ValidationError, match="limit"):
        services.chatgroup_transition(group=suspended, action="reinstate", by=dpo, reason="x")
    assert ChatGroup.objects.approved().count() == 2


def test_it_approves_again_once_a_group_is_retired(dpo, settings):
    settings.MAX_APPROVED_GROUPS = 1
    old = ChatGroupFactory(status="approved")
    proposal = ChatGroupFactory(status="proposed")
    services.chatgroup_transition(group=old, action="retire", by=dpo, reason="Project over")
    services.chatgroup_transition(group=proposal, action="approve", by=dpo, reason="OK")
    assert ChatGroup.objects.approved().get() == proposal


# --- membership ----------------------------------------------------------------------


def test_the_admin_adds_and_removes_members_keeping_history(group, admin_user):
    person = UserFactory()
    membership = services.membership_add(group=group, user=person, by=admin_user)
    assert membership.added_by == admin_user and membership.is_active
    services.membership_remove(membership=membership, by=admin_user)
    membership.refresh_from_db()
    assert membership.left_at is not None and membership.removed_by == admin_user
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert [r.history_type for r in membership.history.order_by("history_date")] == ["+", "~"]


def test_it_refuses_adding_a_member_twice(group, admin_user, member):
    with pytest.raises(ValidationError, match="already a member"):
        services.membership_add(group=group, user=member, by=admin_user)
    assert Membership.objects.filter(group=group, user=member).count() == 1


def test_it_refuses_adding_a_disabled_account(group, admin_user):
    person = UserFactory(is_active=False)
    with pytest.raises(ValidationError, match="disabled"):
        services.membership_add(group=group, user=person, by=admin_user)


def test_it_refuses_removing_the_admin(group, admin_user):
    membership = Membership.objects.get(group=group, user=admin_user)
    with pytest.raises(ValidationError, match="Hand the admin role"):
        services.membership_remove(membership=membership, by=admin_user)
    membership.refresh_from_db()
    assert membership.is_active


def test_it_refuses_removing_someone_twice(group, admin_user, member):
    membership = Membership.objects.get(group=group, user=member)
    services.membership_remove(membership=membership, by=admin_user)
    with pytest.raises(ValidationError, match="already left"):
        services.membership_remove(membership=membership, by=admin_user)


@pytest.mark.parametrize("who", ["member", "outsider", "auditor"])
def test_only_admin_deputy_or_dpo_manage_members(request, group, who):
    with pytest.raises(PermissionDenied):
        services.membership_add(group=group, user=UserFactory(), by=request.getfixturevalue(who))


def test_the_deputy_and_the_dpo_manage_members(group, member, dpo, admin_user):
    services.chatgroup_set_deputy(group=group, user=member, by=admin_user)
    group.refresh_from_db()
    services.membership_add(group=group, user=UserFactory(username="a"), by=member)
    services.membership_add(group=group, user=UserFactory(username="b"), by=dpo)
    assert Membership.objects.active().filter(group=group).count() == 4


def test_it_refuses_changes_to_a_retired_group(group, admin_user, dpo):
    services.chatgroup_transition(group=group, action="retire", by=dpo, reason="Done")
    with pytest.raises(ValidationError) as refused:
        services.membership_add(group=group, user=UserFactory(), by=admin_user)
    assert refused.value.messages == ["A retired group's membership can no longer be changed."]


def test_it_hands_over_admin_to_a_current_member_only(group, admin_user, member):
    with pytest.raises(ValidationError, match="current member"):
        services.chatgroup_set_admin(group=group, user=UserFactory(), by=admin_user)
    services.chatgroup_set_admin(group=group, user=member, by=admin_user)
    group.refresh_from_db()
    assert group.admin == member
    # The old admin is still a member, and the new admin may now remove them.
    old = Membership.objects.get(group=group, user=admin_user, left_at__isnull=True)
    services.membership_remove(membership=old, by=member)


def test_handing_admin_to_the_deputy_clears_the_deputy(group, admin_user, member):
    services.chatgroup_set_deputy(group=group, user=member, by=admin_user)
    services.chatgroup_set_admin(group=group, user=member, by=admin_user)
    group.refresh_from_db()
    assert group.admin == member and group.deputy is None


def test_the_deputy_must_be_a_member_other_than_the_admin(group, admin_user):
    with pytest.raises(ValidationError, match="admin cannot also be the deputy"):
        services.chatgroup_set_deputy(group=group, user=admin_user, by=admin_user)
    with pytest.raises(ValidationError, match="current member"):
        services.chatgroup_set_deputy(group=group, user=UserFactory(), by=admin_user)


def test_removing_the_deputy_clears_the_deputy_role(group, admin_user, member):
    services.chatgroup_set_deputy(group=group, user=member, by=admin_user)
    services.membership_remove(membership=Membership.objects.get(group=group, user=member), by=admin_user)
    group.refresh_from_db()
    assert group.deputy is None


def test_it_edits_details_and_keeps_the_name_unique(proposal, admin_user):
    ChatGroupFactory(name="Taken")
    with pytest.raises(ValidationError, match="already on the register"):
        services.chatgroup_update(
            group=proposal, by=admin_user, name="TAKEN", purpose="p", cycle_weekday=1, cycle_time=proposal.cycle_time
        )
    services.chatgroup_update(
        group=proposal,
        by=admin_user,
        name="Renamed",
        purpose="New purpose",
        cycle_weekday=1,
        cycle_time=proposal.cycle_time,
    )
    proposal.refresh_from_db()
    assert (proposal.name, proposal.purpose, proposal.cycle_weekday) == ("Renamed", "New purpose", 1)


def test_a_rename_that_loses_a_race_for_the_name_gets_the_field_error(proposal, admin_user, monkeypatch):
    # Two renames to the same name at once both pass the check before either saves; the
    # database constraint then refuses the second, which must read as the field's error.
    ChatGroupFactory(name="Taken")
    monkeypatch.setattr(services, "_check_name_free", lambda name, **kwargs: None)
    with pytest.raises(ValidationError) as exc:
        services.chatgroup_update(
            group=proposal, by=admin_user, name="taken", purpose="p", cycle_weekday=1, cycle_time=proposal.cycle_time
        )
    assert exc.value.message_dict == {"name": ["A group with this name is already on the register."]}
    proposal.refresh_from_db()
    assert proposal.name == "New Idea"


def test_members_cannot_edit_details(group, member):
    with pytest.raises(PermissionDenied):
        services.chatgroup_update(
            group=group, by=member, name="X", purpose="p", cycle_weekday=1, cycle_time=group.cycle_time
        )


def test_membership_factory_smoke():
    assert MembershipFactory().is_active
