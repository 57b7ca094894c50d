"""The periodic review of every group (R16): scheduling, the admin's answers, the DPO's
sign-off and send-back, the overdue flag and the DPO's board."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attestations import reviews, services
from attestations.audit import history
from attestations.models import Flag, SentEmail
from groups import services as group_services
from groups.models import ChatGroup, GroupReview, Membership, ReviewAnswer
from tests.attestations.conftest import BASE, utc
from tests.factories import ChatGroupFactory, MembershipFactory

pytestmark = pytest.mark.django_db

# BASE is Tuesday 10 November 2026, 09:00 GMT; six months on is 10 May 2027, 09:00 BST.
SIX_MONTHS_ON = utc(2027, 5, 10, 8)


@pytest.fixture
def review(group):
    return group_services.review_schedule(group=group, after=BASE, by=None)


def answer(review, by, *, remove=(), purpose=None, **confirm):
    members = Membership.objects.active().filter(group=review.group)
    keep = {m.pk: m.user not in remove for m in members}
    values = {"purpose_confirmed": True, "official_only": True, "settings_confirmed": True, **confirm}
    return reviews.review_submit(review=review, by=by, purpose=purpose or review.group.purpose, keep=keep, **values)


def test_approving_a_group_schedules_its_first_review_on_the_uk_clock(dpo, admin_user):
    proposal = ChatGroupFactory(admin=admin_user, status=ChatGroup.Status.PROPOSED)
    group_services.chatgroup_transition(group=proposal, action="approve", by=dpo, reason="Needed")
    review = GroupReview.objects.get(group=proposal)
    # Six months of wall clock: 09:00 in November (GMT) is 09:00 in May (BST), 08:00 UTC.
    assert review.status == "due" and review.due_at == SIX_MONTHS_ON
    # Its history says who opened it: the DPO who approved the group.
    assert [(h.history_user, h.history_change_reason) for h in review.history.all()] == [(dpo, "Review scheduled")]
    # Suspended and reinstated, the group keeps its open review rather than gaining another.
    group_services.chatgroup_transition(group=proposal, action="suspend", by=dpo, reason="Paused")
    group_services.chatgroup_transition(group=proposal, action="reinstate", by=dpo, reason="Back")
    assert GroupReview.objects.filter(group=proposal).count() == 1


def test_the_dpo_sets_a_groups_interval_and_its_open_review_moves(group, review, dpo, admin_user):
    group.approved_at = BASE
    group.save()
    reviews.review_interval_set(group=group, by=dpo, months=3)
    review.refresh_from_db()
    assert review.due_at == utc(2027, 2, 10, 9)
    with pytest.raises(ValidationError):
        reviews.review_interval_set(group=group, by=dpo, months=30)
    with pytest.raises(PermissionDenied):
        reviews.review_interval_set(group=group, by=admin_user, months=3)


def test_the_admin_answers_in_one_submit_and_removals_go_through_the_register(group, review, admin_user, member, at):
    leaver = MembershipFactory(group=group).user
    at(BASE + dt.timedelta(days=1))
    answer(review, admin_user, remove=[leaver], purpose="Coordinating urgent operations.")
    review.refresh_from_db()
    assert review.status == "submitted" and review.submission == 1 and review.submitted_by == admin_user
    assert review.purpose == "Coordinating urgent operations."
    # The group's purpose changes only when the DPO signs off.
    assert ChatGroup.objects.get(pk=group.pk).purpose != review.purpose
    gone = Membership.objects.get(group=group, user=leaver)
    assert gone.left_at == BASE + dt.timedelta(days=1) and gone.removed_by == admin_user
    assert gone.history.first().history_change_reason == "Removed"
    answers = {a.membership.user: a.keep for a in ReviewAnswer.objects.filter(review=review)}
    assert answers == {admin_user: True, member: True, leaver: False}
    assert review.history.first().history_user == admin_user


@pytest.mark.parametrize("missing", ["purpose_confirmed", "official_only", "settings_confirmed"])
def test_every_confirmation_is_required_and_nothing_is_changed_without_it(group, review, admin_user, missing):
    with pytest.raises(ValidationError) as refused:
        answer(review, admin_user, remove=[group.memberships.exclude(user=admin_user).first().user], **{missing: False})
    assert missing in refused.value.error_dict
    assert Membership.objects.active().filter(group=group).count() == 2
    assert GroupReview.objects.get(pk=review.pk).status == "due"


def test_the_admin_stays_and_a_stale_member_list_is_refused(group, review, admin_user, member):
    with pytest.raises(ValidationError, match="admin and stays"):
        answer(review, admin_user, remove=[admin_user])
    stale = {m.pk: True for m in Membership.objects.active().filter(group=group, user=admin_user)}
    with pytest.raises(ValidationError, match="members changed"):
        reviews.review_submit(
            review=review, by=admin_user, purpose="x", purpose_confirmed=True, official_only=True,
            settings_confirmed=True, keep=stale,
        )  # fmt: skip


def test_only_the_admin_or_deputy_answers_and_only_once(group, review, admin_user, member, dpo, outsider):
    for person in (member, dpo, outsider):
        with pytest.raises(PermissionDenied):
            answer(review, person)
    answer(review, admin_user)
    with pytest.raises(ValidationError, match="with the DPO"):
        answer(review, admin_user)


def test_the_dpo_signs_off_the_purpose_and_the_next_review_is_due_from_the_sign_off(group, review, admin_user, dpo, at):
    answer(review, admin_user, purpose="Coordinating urgent operations.")
    with pytest.raises(PermissionDenied):
        reviews.review_sign_off(review=review, by=admin_user)
    signed = at(utc(2026, 11, 20, 12))
    reviews.review_sign_off(review=review, by=dpo)
    review.refresh_from_db()
    assert review.status == "signed_off" and review.signed_off_by == dpo and review.signed_off_at == signed
    group.refresh_from_db()
    assert group.purpose == "Coordinating urgent operations."
    assert group.history.first().history_change_reason == "Purpose confirmed at review"
    following = reviews.review_open(group=group)
    assert following.status == "due" and following.due_at == utc(2027, 5, 20, 11)  # 12:00 GMT -> 12:00 BST
    with pytest.raises(ValidationError, match="already signed off"):
        reviews.review_sign_off(review=review, by=dpo)


def test_the_dpo_sends_it_back_with_a_reason_and_the_admin_and_deputy_are_emailed(
    group, review, admin_user, member, dpo, django_capture_on_commit_callbacks
):
    group.deputy = member
    group.save()
    answer(review, admin_user)
    with pytest.raises(ValidationError):
        reviews.review_send_back(review=review, by=dpo, reason="  ")
    reviews.review_send_back(review=review, by=dpo, reason="Two members have moved teams.")
    review.refresh_from_db()
    assert review.status == "due" and review.return_reason == "Two members have moved teams."
    emails = SentEmail.objects.filter(kind=SentEmail.Kind.REVIEW_RETURNED)
    assert sorted(e.user_id for e in emails) == sorted([admin_user.pk, member.pk])
    # Answered again: a second set of answers, kept beside the first.
    answer(review, admin_user)
    review.refresh_from_db()
    assert review.submission == 2 and ReviewAnswer.objects.filter(review=review).count() == 4


def test_an_overdue_review_is_flagged_once_on_the_admin_and_settled_by_the_answer(group, review, admin_user, dpo, at):
    at(SIX_MONTHS_ON - dt.timedelta(minutes=1))
    assert services.flags_raise(now=SIX_MONTHS_ON - dt.timedelta(minutes=1)).raised == []
    late = at(SIX_MONTHS_ON + dt.timedelta(minutes=15))
    raised = services.flags_raise(now=late).raised
    assert [(f.kind, f.user, f.review_id, f.group_id, f.cycle_id) for f in raised] == [
        (Flag.Kind.REVIEW_OVERDUE, admin_user, review.pk, group.pk, None)
    ]
    assert services.flags_raise(now=late + dt.timedelta(minutes=15)).raised == []  # once
    answer(review, admin_user)
    assert Flag.objects.get().resolved_at == late
    # Sent back after its due date: overdue again, a new flag (the first stays resolved).
    reviews.review_send_back(review=review, by=dpo, reason="Check the members again.")
    again = services.flags_raise(now=late + dt.timedelta(hours=1)).raised
    assert len(again) == 1 and Flag.objects.filter(resolved_at__isnull=True).count() == 1


def test_a_review_flag_on_a_group_no_longer_approved_is_settled_by_the_sweep(group, review, dpo, at):
    late = at(SIX_MONTHS_ON + dt.timedelta(minutes=15))
    services.flags_raise(now=late)
    group_services.chatgroup_transition(group=group, action="suspend", by=dpo, reason="Paused")
    assert services.flags_resolve_settled(now=late) == 1
    assert services.flags_raise(now=late).raised == []


def test_the_board_asks_the_dpo_to_suspend_a_group_overdue_by_a_further_interval(group, review, admin_user):
    other = ChatGroupFactory(name="Estates")
    waiting = group_services.review_schedule(group=other, after=BASE, by=None)
    answer(waiting, other.admin)
    board = reviews.review_board(now=SIX_MONTHS_ON + dt.timedelta(days=1))
    assert board.overdue == [review] and board.waiting == [waiting] and board.suspend == []
    # Six further months on (10 Nov 2027) the review is overdue by a whole interval.
    board = reviews.review_board(now=utc(2027, 11, 10, 10))
    assert board.suspend == [review] and board.overdue == []


def test_the_board_is_one_query_however_many_groups(django_assert_num_queries):
    for _n in range(3):
        group_services.review_schedule(group=ChatGroupFactory(), after=BASE, by=None)
    with django_assert_num_queries(1):
        reviews.review_board(now=SIX_MONTHS_ON)
    for _n in range(12):
        group_services.review_schedule(group=ChatGroupFactory(), after=BASE, by=None)
    with django_assert_num_queries(1):
        board = reviews.review_board(now=SIX_MONTHS_ON + dt.timedelta(days=1))
    assert len(board.overdue) == 15


def test_flags_raise_stays_flat_with_many_overdue_reviews():
    def raised_with_queries(now) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            raised = services.flags_raise(now=now).raised
        return len(raised), len(queries)

    for _n in range(3):
        group_services.review_schedule(group=ChatGroupFactory(), after=BASE, by=None)
    few = raised_with_queries(SIX_MONTHS_ON + dt.timedelta(minutes=1))
    for _n in range(12):
        group_services.review_schedule(group=ChatGroupFactory(), after=BASE, by=None)
    many = raised_with_queries(SIX_MONTHS_ON + dt.timedelta(hours=1))
    assert few[0] == 3 and many[0] == 12 and few[1] == many[1]


def test_reviews_and_each_answer_are_in_the_audit_history(group, review, admin_user, member):
    answer(review, admin_user)
    rows = history.history_rows(filters=history.HistoryFilters(group_id=group.pk, kind="review_answer"))
    subjects = sorted(e["subject"] for batch in rows for e in batch)
    assert subjects == [
        "Grace Adeyemi in Urgent Ops, review of Urgent Ops due 10 May 2027",
        "Morgan Lee in Urgent Ops, review of Urgent Ops due 10 May 2027",
    ]
    rows = history.history_rows(filters=history.HistoryFilters(group_id=group.pk, kind="review"))
    reasons = [e["reason"] for batch in rows for e in batch]
    assert "Review scheduled" in reasons and "Answered (1)" in reasons
