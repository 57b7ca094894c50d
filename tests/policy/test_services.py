"""Policy versions and their acknowledgement (R15): the services and selectors."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, IntegrityError, connection, transaction

from groups import policy, services
from groups.models import ChatGroup, Membership, PendingMembership, PolicyAcknowledgement, PolicyVersion
from groups.policy_selectors import policy_ack_due, policy_acks_by_group, policy_acks_by_person, policy_current
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory, policy_version

pytestmark = pytest.mark.django_db

UK = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=UK)  # a Tuesday, GMT

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def draft(**fields) -> policy.PolicyDraft:
    values = {
        "title": "Use of WhatsApp",
        "number": "2.0",
        "effective_on": NOW.date(),
        "changes": "Clear-downs are confirmed in the portal.",
        "text": "Clear each work group's chat every seven days.",
    }
    values.update(fields)
    return policy.PolicyDraft(**values)


def test_it_lets_only_the_dpo_draft_and_publish(dpo, admin_user, auditor):
    for person in (admin_user, auditor):
        with pytest.raises(PermissionDenied):
            policy.policy_version_draft(draft=draft(), by=person)
    version = policy.policy_version_draft(draft=draft(), by=dpo)
    assert not version.is_published
    with pytest.raises(PermissionDenied):
        policy.policy_version_publish(version=version, by=auditor)
    policy.policy_version_publish(version=version, by=dpo)
    version.refresh_from_db()
    assert version.published_by == dpo and version.published_at == NOW
    assert [h.history_change_reason for h in version.history.order_by("history_id")] == ["Drafted", "Published"]


def test_it_refuses_a_draft_without_text_or_pdf_or_with_a_taken_number(dpo):
    with pytest.raises(ValidationError) as refused:
        policy.policy_version_draft(draft=draft(text="  "), by=dpo)
    assert "upload it as a PDF" in str(refused.value)
    policy.policy_version_draft(draft=draft(), by=dpo)
    with pytest.raises(ValidationError) as refused:
        policy.policy_version_draft(draft=draft(title="Other"), by=dpo)
    assert refused.value.message_dict["number"] == ["There is already a version 2.0."]


def test_it_keeps_a_real_pdf_and_refuses_a_fake_a_big_or_an_active_one(dpo, settings):
    version = policy.policy_version_draft(
        draft=draft(text="", pdf=SimpleUploadedFile("policy.pdf", PDF, "application/pdf")), by=dpo
    )
    assert version.pdf.name.startswith("policy/") and version.pdf.read() == PDF
    fakes = {
        "a.pdf": (b"MZ\x90\x00 not a pdf at all", "must be a PDF"),
        "b.pdf": (PDF.replace(b"/Catalog", b"/Catalog /OpenAction 3 0 R"), "scripts, actions"),
        "c.pdf": (PDF.replace(b"/Catalog", b"/Catalog /Names << /JavaScript 4 0 R >>"), "scripts, actions"),
    }
    for number, (name, (data, message)) in enumerate(fakes.items(), start=3):
        with pytest.raises(ValidationError) as refused:
            policy.policy_version_draft(
                draft=draft(number=f"{number}.0", pdf=SimpleUploadedFile(name, data, "application/pdf")), by=dpo
            )
        assert message in str(refused.value.message_dict["pdf"])
    settings.POLICY_PDF_MAX_BYTES = len(PDF) - 1
    with pytest.raises(ValidationError) as refused:
        policy.policy_version_draft(draft=draft(number="9.0", pdf=SimpleUploadedFile("p.pdf", PDF)), by=dpo)
    assert "the limit is" in str(refused.value.message_dict["pdf"])
    # A font subset's name (/AAAAAB+Arial) is not the /AA actions key.
    settings.POLICY_PDF_MAX_BYTES = 10_000
    fonts = PDF.replace(b"/Catalog", b"/Catalog /BaseFont /AAAAAB+Arial")
    assert policy.policy_version_draft(
        draft=draft(number="8.0", text="", pdf=SimpleUploadedFile("p.pdf", fonts)), by=dpo
    )


def test_a_published_version_cannot_be_changed_by_the_service_nor_in_the_database(dpo):
    version = policy.policy_version_draft(draft=draft(), by=dpo)
    policy.policy_version_update(version=version, draft=draft(title="Better title"), by=dpo)
    policy.policy_version_publish(version=version, by=dpo)
    for call in (
        lambda: policy.policy_version_update(version=version, draft=draft(title="Sneaky"), by=dpo),
        lambda: policy.policy_version_publish(version=version, by=dpo),
        lambda: policy.policy_version_delete_draft(version=version, by=dpo),
    ):
        with pytest.raises(ValidationError, match="can no longer be changed"):
            call()
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        PolicyVersion.objects.filter(pk=version.pk).update(title="Changed behind the portal's back")
    if connection.vendor == "postgresql":  # SQLite's tables are emptied by DELETE: the services refuse it
        with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
            PolicyVersion.objects.filter(pk=version.pk).delete()
    version.refresh_from_db()
    assert version.title == "Better title"


def test_a_draft_can_be_deleted_and_leaves_its_history(dpo):
    version = policy.policy_version_draft(draft=draft(), by=dpo)
    policy.policy_version_delete_draft(version=version, by=dpo)
    assert not PolicyVersion.objects.exists()
    assert PolicyVersion.history.filter(history_type="-").get().history_change_reason == "Draft deleted"


def test_the_current_version_is_the_latest_published_whose_date_has_come(dpo):
    assert policy_current(now=NOW) is None
    one = policy_version(number="1.0", by=dpo, effective_on=dt.date(2025, 1, 1))
    policy_version(number="3.0", by=dpo, effective_on=dt.date(2026, 4, 1))  # not yet in effect
    policy_version(number="2.5", by=dpo, effective_on=dt.date(2026, 3, 1), published=False)  # a draft
    assert policy_current(now=NOW) == one
    two = policy_version(number="2.0", by=dpo, effective_on=dt.date(2026, 3, 10))
    assert policy_current(now=NOW) == two
    # The day it takes effect starts at midnight in the UK (BST on 1 April).
    assert policy_current(now=dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC)).number == "3.0"
    assert policy_current(now=dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC)).number == "2.0"


def test_publishing_asks_every_member_of_an_approved_group_once_with_a_deadline(dpo, group, member, admin_user):
    ChatGroupFactory(name="Idea", status="proposed", admin=UserFactory(username="proposer"))
    retired = ChatGroupFactory(name="Old", status="retired", admin=UserFactory(username="old-admin"))
    MembershipFactory(group=retired, user=UserFactory(username="retiree"))
    gone = UserFactory(username="gone", is_active=False)
    MembershipFactory(group=group, user=gone)
    version = policy.policy_version_draft(draft=draft(), by=dpo)
    policy.policy_version_publish(version=version, by=dpo)
    acks = PolicyAcknowledgement.objects.filter(version=version)
    assert {a.user.username for a in acks} == {member.username, admin_user.username}
    due = NOW + dt.timedelta(days=settings.POLICY_ACK_DAYS)
    assert {a.due_at for a in acks} == {due}
    assert policy.policy_acks_ensure(now=NOW) == []  # asked once


def test_a_member_acknowledges_once_and_a_second_tap_changes_nothing(dpo, group, member, clock):
    version = policy_version(number="2.0", by=dpo)
    policy.policy_acks_ensure(now=NOW)
    due = policy_ack_due(user=member, now=NOW)
    assert due.version == version and not due.overdue
    first = policy.policy_acknowledge(version=version, user=member)
    assert not first.already and first.ack.acknowledged_at == NOW
    clock.shift(dt.timedelta(hours=1))
    second = policy.policy_acknowledge(version=version, user=member)
    assert second.already and second.ack.acknowledged_at == NOW
    assert PolicyAcknowledgement.objects.filter(user=member).count() == 1
    assert policy_ack_due(user=member, now=NOW) is None
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyAcknowledgement.objects.create(version=version, user=member, created_at=NOW, due_at=NOW)


def test_a_new_version_asks_again_and_an_old_one_cannot_be_acknowledged(dpo, group, member, clock):
    one = policy_version(number="1.0", by=dpo, effective_on=dt.date(2025, 1, 1))
    policy.policy_acknowledge(version=one, user=member)
    assert policy_ack_due(user=member, now=NOW) is None
    clock.shift(dt.timedelta(days=1))
    two = policy_version(number="2.0", by=dpo)
    assert policy_ack_due(user=member, now=NOW + dt.timedelta(days=1)).version == two
    with pytest.raises(ValidationError, match="not the current policy"):
        policy.policy_acknowledge(version=one, user=member)


def test_someone_who_joins_later_has_their_own_deadline_and_is_overdue_after_it(dpo, group, clock):
    policy_version(number="2.0", by=dpo)
    clock.shift(dt.timedelta(days=20))
    joiner = UserFactory(username="joiner")
    services.membership_add(group=group, user=joiner, by=group.admin)
    later = NOW.astimezone(dt.UTC) + dt.timedelta(days=20)  # 10:30 BST
    due = policy_ack_due(user=joiner, now=later)
    # POLICY_ACK_DAYS after joining, at the same UK wall-clock time.
    assert due.due_at.astimezone(UK) == dt.datetime(2026, 4, 13, 10, 30, tzinfo=UK)
    assert not due.overdue
    assert policy_ack_due(user=group.admin, now=later).overdue
    assert policy_ack_due(user=UserFactory(username="no-group"), now=later) is None


def test_the_deadline_keeps_the_uk_wall_clock_across_the_clock_change(dpo, group, member, settings):
    settings.POLICY_ACK_DAYS = 30
    policy_version(number="2.0", by=dpo)  # 09:30 GMT on 10 March
    due = policy_ack_due(user=member, now=NOW).due_at
    assert due.astimezone(UK).time() == dt.time(9, 30) and due.astimezone(UK).date() == dt.date(2026, 4, 9)


def test_counts_by_group_and_person(dpo, group, member, admin_user, clock):
    ChatGroupFactory(name="Other", admin=admin_user)
    version = policy_version(number="2.0", by=dpo)
    policy.policy_acks_ensure(now=NOW)
    policy.policy_acknowledge(version=version, user=member)
    clock.shift(dt.timedelta(days=settings.POLICY_ACK_DAYS, seconds=1))
    later = NOW + dt.timedelta(days=settings.POLICY_ACK_DAYS, seconds=1)
    rows = {row.group.name: row for row in policy_acks_by_group(version=version, now=later)}
    assert (rows["Urgent Ops"].members, rows["Urgent Ops"].acknowledged, rows["Urgent Ops"].overdue) == (2, 1, 1)
    assert (rows["Other"].members, rows["Other"].acknowledged, rows["Other"].outstanding) == (1, 0, 1)
    people = {row.user.username: row for row in policy_acks_by_person(version=version, now=later)}
    assert people["member"].status == "acknowledged" and people["groupadmin"].status == "overdue"
    assert people["groupadmin"].groups == ["Other", "Urgent Ops"]
    assert [
        r.user.username
        for r in policy_acks_by_person(
            version=version, now=later, groups=ChatGroup.objects.filter(pk=group.pk), status="overdue"
        )
    ] == ["groupadmin"]


def test_with_ack_before_joining_the_add_waits_and_the_membership_starts_at_the_acknowledgement(
    dpo, group, settings, clock
):
    """Decision (README "Policy versions"): the person is not a member until they acknowledge,
    so they owe no clear-down for the weeks before; their membership starts at that moment."""
    settings.POLICY_ACK_BEFORE_JOINING = True
    version = policy_version(number="2.0", by=dpo)
    newcomer = UserFactory(username="newcomer")
    pending = services.membership_add(group=group, user=newcomer, by=group.admin)
    assert isinstance(pending, PendingMembership)
    assert not Membership.objects.filter(user=newcomer).exists()
    assert policy_ack_due(user=newcomer, now=NOW).version == version  # asked on their home page
    with pytest.raises(ValidationError, match="already waiting"):
        services.membership_add(group=group, user=newcomer, by=group.admin)
    clock.shift(dt.timedelta(days=3))
    result = policy.policy_acknowledge(version=version, user=newcomer)
    assert result.joined == [group]
    membership = Membership.objects.get(user=newcomer)
    assert membership.joined_at == NOW + dt.timedelta(days=3) and membership.added_by == group.admin
    pending.refresh_from_db()
    assert pending.resolved_at == membership.joined_at and pending.membership == membership
    # Someone who has acknowledged joins at once.
    services.membership_add(group=group, user=UserFactory(username="other"), by=group.admin)
    assert PendingMembership.objects.filter(resolved_at__isnull=True).count() == 1
    policy.policy_acknowledge(version=version, user=UserFactory(username="ready"))
    assert isinstance(
        services.membership_add(group=group, user=UserFactory(username="ready"), by=group.admin), Membership
    )


def test_a_pending_add_can_be_withdrawn_by_the_admin_only(dpo, group, settings, outsider):
    settings.POLICY_ACK_BEFORE_JOINING = True
    policy_version(number="2.0", by=dpo)
    pending = services.membership_add(group=group, user=UserFactory(username="newcomer"), by=group.admin)
    with pytest.raises(PermissionDenied):
        policy.pending_membership_withdraw(pending=pending, by=outsider)
    policy.pending_membership_withdraw(pending=pending, by=group.admin)
    assert policy_ack_due(user=pending.user, now=NOW) is None


def test_with_ack_before_joining_off_or_no_policy_the_add_is_immediate(group, settings):
    settings.POLICY_ACK_BEFORE_JOINING = True
    assert isinstance(services.membership_add(group=group, user=UserFactory(username="a"), by=group.admin), Membership)
    settings.POLICY_ACK_BEFORE_JOINING = False
    policy_version(number="2.0")
    assert isinstance(services.membership_add(group=group, user=UserFactory(username="b"), by=group.admin), Membership)


def test_the_bulk_add_sends_those_who_have_not_acknowledged_to_pending(dpo, group, settings):
    settings.POLICY_ACK_BEFORE_JOINING = True
    version = policy_version(number="2.0", by=dpo)
    ready, waiting = UserFactory(username="ready"), UserFactory(username="waiting")
    policy.policy_acknowledge(version=version, user=ready)
    result = services.memberships_add_many(group=group, users=[ready, waiting], by=group.admin)
    assert result.added == [ready] and result.pending == [waiting]


def test_a_disabled_account_cannot_acknowledge(dpo):
    version = policy_version(number="2.0", by=dpo)
    with pytest.raises(PermissionDenied):
        policy.policy_acknowledge(version=version, user=UserFactory(username="x", is_active=False))
