"""The emails of a group's periodic review (R16), through a real SMTP server: the overdue
review's email to the admin (once, however often the sweep runs), its escalation to the
DPO, and the DPO's reason when a review is sent back."""

from __future__ import annotations

import datetime as dt

import pytest

from attestations import disappearing, hold_notices, reviews
from attestations.models import Flag, SentEmail
from groups.models import ChatGroup, GroupReview, Membership
from tests.attestations.conftest import BASE
from tests.notifications.conftest import MINUTES_15

pytestmark = pytest.mark.django_db

DUE_AT = BASE + dt.timedelta(days=1)  # Wednesday 11 November 2026, 09:00


@pytest.fixture
def review(group):
    return GroupReview.objects.create(group=group, due_at=DUE_AT, created_at=BASE)


def answer_keeping_everyone(review, admin):
    keep = {m.pk: True for m in Membership.objects.active().filter(group=review.group)}
    values = {"purpose_confirmed": True, "official_only": True, "settings_confirmed": True}
    reviews.review_submit(review=review, by=admin, purpose=review.group.purpose, keep=keep, **values)


def about_reviews(inbox) -> list:
    """The emails about reviews (the group's weekly clear-downs run meanwhile and email too)."""
    return [m for m in inbox.messages if "review" in m["Subject"] or "Group reviews overdue" in bodies(m)[0]]


def bodies(message) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def test_an_overdue_review_emails_the_admin_once_and_then_the_dpo(
    smtp_server, review, group, admin_user, dpo, sweep_at, settings
):
    sweep_at(DUE_AT - MINUTES_15)
    assert about_reviews(smtp_server) == []
    sweep_at(DUE_AT + MINUTES_15)
    sweep_at(DUE_AT + 2 * MINUTES_15)  # the next run: no second email
    assert [m["To"] for m in about_reviews(smtp_server)] == [admin_user.email]
    message = about_reviews(smtp_server)[0]
    assert message["Subject"] == "Urgent Ops: the group's review is overdue (due 11 Nov 2026)"
    for body in bodies(message):
        assert f"http://testserver/clear-downs/groups/{group.pk}/review/" in body
        assert "OFFICIAL information only" in body and "business purpose" in body
    flag = Flag.objects.get(kind=Flag.Kind.REVIEW_OVERDUE)
    assert flag.notified_at == DUE_AT + MINUTES_15

    later = DUE_AT + MINUTES_15 + dt.timedelta(hours=settings.ESCALATE_AFTER_HOURS)
    sweep_at(later)
    sweep_at(later + MINUTES_15)
    to_dpo = [m for m in about_reviews(smtp_server) if m["To"] == dpo.email]
    assert len(to_dpo) == 1
    for body in bodies(to_dpo[0]):
        assert "Group reviews overdue" in body and "Urgent Ops" in body
        assert f"http://testserver/clear-downs/reviews/{review.pk}/" in body


def test_a_review_answered_before_the_sweep_sends_nothing(smtp_server, review, admin_user, sweep_at, at):
    at(DUE_AT - MINUTES_15)
    answer_keeping_everyone(review, admin_user)
    sweep_at(DUE_AT + MINUTES_15)
    assert about_reviews(smtp_server) == [] and not Flag.objects.filter(kind=Flag.Kind.REVIEW_OVERDUE).exists()


def test_a_review_sent_back_emails_the_admin_the_dpos_reason(
    smtp_server, review, admin_user, dpo, at, django_capture_on_commit_callbacks
):
    at(DUE_AT - dt.timedelta(hours=2))
    answer_keeping_everyone(review, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        reviews.review_send_back(review=review, by=dpo, reason="Sam Jones moved to Estates in October.")
    assert [m["To"] for m in about_reviews(smtp_server)] == [admin_user.email]
    message = about_reviews(smtp_server)[0]
    assert message["Subject"] == "Urgent Ops: the DPO sent the group's review back"
    for body in bodies(message):
        assert "Sam Jones moved to Estates in October." in body
        assert f"/clear-downs/groups/{review.group_id}/review/" in body
    assert SentEmail.objects.get(kind=SentEmail.Kind.REVIEW_RETURNED).status == "sent"


def test_a_hold_on_a_timer_group_emails_the_admin_to_turn_it_off_once_and_then_the_dpo(
    smtp_server, group, admin_user, dpo, sweep_at, at, settings, django_capture_on_commit_callbacks
):
    disappearing.clear_mode_set(group=group, by=dpo, mode=ChatGroup.ClearMode.DISAPPEARING, timer_check="weekly")
    placed = at(BASE + dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        hold_notices.hold_place(group=group, by=dpo, reference="FOI-77", reason="Request received")
    sweep_at(placed + MINUTES_15)
    sweep_at(placed + 2 * MINUTES_15)

    def urgent():
        return [m for m in smtp_server.messages if m["Subject"].startswith("URGENT: turn OFF")]

    assert [m["To"] for m in urgent()] == [admin_user.email]
    assert urgent()[0]["Subject"] == "URGENT: turn OFF disappearing messages in Urgent Ops (hold FOI-77)"
    for body in bodies(urgent()[0]):
        assert "Disappearing messages" in body and f"http://testserver/groups/{group.pk}/" in body
        assert "http://testserver/clear-downs/how-to/" in body
    sweep_at(placed + MINUTES_15 + dt.timedelta(hours=settings.ESCALATE_AFTER_HOURS))
    to_dpo = [m for m in smtp_server.messages if m["To"] == dpo.email and "Escalation" in m["Subject"]]
    assert len(to_dpo) == 1
    for body in bodies(to_dpo[0]):
        assert "not confirmed" in body and "FOI-77" in body
