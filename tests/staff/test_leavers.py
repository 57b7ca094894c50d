"""Leavers (R14): closing an account ends memberships, closes clear-downs and flags, tells the DPO."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from attestations import outbox, services
from attestations.dashboard import counts, stats
from attestations.models import CycleCount, Flag, Obligation, SentEmail
from groups import services as group_services
from groups import staff, staff_selectors
from groups.models import ChatGroup, Membership, StaffProfile
from tests.factories import PASSWORD, ChatGroupFactory, UserFactory, dpo_user
from tests.staff.conftest import DUE, PERIOD_END

pytestmark = pytest.mark.django_db

AFTER_DEADLINE = DUE + dt.timedelta(minutes=15)


def test_it_closes_everything_of_a_leaver_in_one_step(closed_week, group, member, admin_user, dpo, at):
    at(AFTER_DEADLINE)
    services.flags_raise(now=AFTER_DEADLINE)
    assert Flag.objects.filter(user=member, resolved_at__isnull=True).count() == 1

    result = staff.user_deactivate(user=member, by=dpo, reason="Left on 27 November")

    member.refresh_from_db()
    assert not member.is_active
    assert result.memberships_ended == 1
    membership = Membership.objects.get(group=group, user=member)
    assert (membership.left_at, membership.removed_by) == (AFTER_DEADLINE, dpo)
    assert membership.history.first().history_change_reason == "Left the organisation"
    obligation = Obligation.objects.get(user=member)
    assert obligation.status == Obligation.Status.LEFT
    assert obligation.history.first().history_user == dpo
    assert obligation.history.first().history_change_reason.startswith("Left the organisation: Left on 27")
    flag = Flag.objects.get(user=member)
    assert flag.resolved_at == AFTER_DEADLINE
    assert flag.history.first().history_change_reason == "Left the organisation"
    profile = StaffProfile.objects.get(user=member)
    assert (profile.deactivated_at, profile.deactivated_by, profile.deactivation_reason) == (
        AFTER_DEADLINE,
        dpo,
        "Left on 27 November",
    )
    assert profile.history.first().history_user == dpo
    # The counts kept by triggers know the new status.
    assert counts.cycle_counts_check() == []
    assert CycleCount.objects.get(cycle=closed_week).n_left == 1
    # The admin, who is still here, owes as before.
    assert Obligation.objects.get(user=admin_user).status == Obligation.Status.PENDING


def test_a_left_clear_down_is_neither_overdue_nor_done_on_the_dashboard(closed_week, member, dpo, at):
    at(AFTER_DEADLINE)
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    [row] = CycleCount.objects.filter(cycle=closed_week).values("due_at", *stats.COUNTS)
    tally = stats.Tally.of_counts(row, now=AFTER_DEADLINE)
    assert (tally.left, tally.overdue, tally.done, tally.owed) == (1, 1, 0, 1)  # the admin's is overdue
    left = Obligation.objects.get(user=member)
    assert stats.mark_bucket(left, now=AFTER_DEADLINE).bucket_label == "Left the organisation"
    assert not Obligation.objects.filter(stats.bucket_q("overdue", now=AFTER_DEADLINE), user=member).exists()


def test_a_leaver_can_no_longer_attest_even_by_their_emailed_link(closed_week, member, dpo, at):
    at(PERIOD_END + dt.timedelta(hours=2))
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    with pytest.raises(ValidationError, match="closed when the account was closed"):
        services.obligation_attest(
            obligations=[Obligation.objects.get(user=member)],
            user=member,
            cleared_on=PERIOD_END.date(),
            confirmed_cleared=True,
            confirmed_saved=True,
        )


def test_a_deputy_who_leaves_is_no_longer_deputy(group, deputy, dpo):
    staff.user_deactivate(user=deputy, by=dpo, reason="Left")
    group.refresh_from_db()
    assert group.deputy is None
    assert group.history.first().history_change_reason == "Deputy left the organisation"


def test_the_dpo_is_emailed_about_a_group_whose_admin_left(
    group, admin_user, deputy, dpo, smtp_server, django_capture_on_commit_callbacks
):
    retired = ChatGroupFactory(name="Old Group", admin=admin_user, status="retired")
    with django_capture_on_commit_callbacks(execute=True):
        result = staff.user_deactivate(user=admin_user, by=dpo, reason="Retired from the force")
    assert [g.pk for g in result.groups_without_admin] == [group.pk]  # not the retired one
    assert retired.pk not in [g.pk for g in result.groups_without_admin]
    [message] = smtp_server.messages
    assert message["To"] == dpo.email
    assert message["Subject"] == "Urgent Ops needs a new admin: Grace Adeyemi has left"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    handover = f"/groups/{group.pk}/roles/"
    assert handover in text and handover in html
    assert "the deputy, Dee Puty, issues the weekly prompt" in text
    assert SentEmail.objects.get(kind="admin_left").status == "sent"


def test_the_dpos_email_is_not_sent_once_a_new_admin_is_named(
    group, admin_user, member, dpo, smtp_server, django_capture_on_commit_callbacks
):
    staff.user_deactivate(user=admin_user, by=dpo, reason="Left")
    email_id = SentEmail.objects.get(kind="admin_left").pk
    group_services.chatgroup_set_admin(group=group, user=member, by=dpo)
    assert outbox.sentemail_send(sent_email_id=email_id).status == "cancelled"
    assert smtp_server.messages == []


def test_the_sweep_nine_days_after_leavers_raises_nothing_on_them(
    group, admin_user, member, deputy, dpo, sweep_at, smtp_server, at
):
    """The issue's example: the admin and a member leave; nine days of sweeps later nothing is on them."""
    sweep_at(PERIOD_END - dt.timedelta(days=1, minutes=1))  # the week before is chased as usual
    left_at = at(PERIOD_END - dt.timedelta(days=1))
    staff.user_deactivate(user=admin_user, by=dpo, reason="Left")
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    sent_before = len(smtp_server.messages)
    for step in range(1, 9 * 24 * 4 + 1, 8):  # every two hours for nine days
        sweep_at(left_at + dt.timedelta(minutes=15 * step))
    leavers = [admin_user, member]
    assert not Membership.objects.active().filter(user__in=leavers).exists()
    # What they owed from before is closed as left; the weeks that ended after they left ask nothing of them.
    assert set(Obligation.objects.filter(user__in=leavers).values_list("status", flat=True)) <= {"left"}
    assert not Obligation.objects.filter(user__in=leavers, cycle__period_end__gt=left_at).exists()
    assert Obligation.objects.filter(cycle__period_end__gt=left_at, user=deputy).exists()
    assert not Flag.objects.filter(user__in=leavers, resolved_at__isnull=True).exists()
    assert not Flag.objects.filter(user__in=leavers, raised_at__gt=left_at).exists()
    assert not SentEmail.objects.filter(user__in=leavers, created_at__gt=left_at).exists()
    after = {m["To"] for m in smtp_server.messages[sent_before:]}
    assert after and after <= {deputy.email, dpo.email}
    # The prompt nobody issued after they left is the deputy's, who is still here.
    missed = Flag.objects.filter(kind="prompt_missed", raised_at__gt=left_at)
    assert set(missed.values_list("user", flat=True)) == {deputy.pk}


def test_a_leaver_who_owed_a_week_is_chased_no_more(closed_week, group, admin_user, member, dpo, sweep_at):
    sweep_at(AFTER_DEADLINE)
    assert Flag.objects.filter(user__in=[admin_user, member], resolved_at__isnull=True).count() == 3
    staff.user_deactivate(user=admin_user, by=dpo, reason="Left")
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    for day in range(1, 10):
        sweep_at(AFTER_DEADLINE + dt.timedelta(days=day))
    assert not Flag.objects.filter(user__in=[admin_user, member], resolved_at__isnull=True).exists()
    assert not Obligation.objects.filter(user__in=[admin_user, member], status="pending").exists()
    later = Obligation.objects.filter(cycle__period_end__gt=PERIOD_END)
    assert not later.filter(user__in=[admin_user, member]).exists()


def test_a_disabled_account_gets_no_email_whoever_queued_it(closed_week, member, admin_user, dpo, at, smtp_server):
    at(PERIOD_END + dt.timedelta(hours=1))
    services.cycle_prompt(cycle=closed_week, by=admin_user)
    email = SentEmail.objects.get(kind="prompt", user=member)
    member.is_active = False  # closed behind the portal's back (a data fix): still no email
    member.save()
    assert outbox.sentemail_send(sent_email_id=email.pk).status == "cancelled"
    email.refresh_from_db()
    assert email.error == "the account is disabled"
    assert member.email not in [m["To"] for m in smtp_server.messages]


def test_the_last_dpo_cannot_be_closed(dpo):
    other = dpo_user(username="dpo2")
    staff.user_deactivate(user=other, by=None, reason="Left")
    with pytest.raises(ValidationError, match="only DPO"):
        staff.user_deactivate(user=dpo, by=None, reason="Left")
    dpo.refresh_from_db()
    assert dpo.is_active


def test_nobody_closes_their_own_account_and_a_reason_is_required(dpo, member):
    with pytest.raises(ValidationError, match="your own account"):
        staff.user_deactivate(user=dpo, by=dpo, reason="Leaving")
    with pytest.raises(ValidationError, match="Give a reason"):
        staff.user_deactivate(user=member, by=dpo, reason="  ")
    member.refresh_from_db()
    assert member.is_active


def test_closing_twice_is_refused_and_changes_nothing(group, member, dpo):
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    with pytest.raises(ValidationError, match="already closed"):
        staff.user_deactivate(user=member, by=dpo, reason="Left again")
    assert Membership.objects.filter(user=member).count() == 1


def test_a_rehire_can_sign_in_again_but_gets_no_memberships_back(client, group, member, dpo):
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    staff.user_reactivate(user=member, by=dpo, reason="Rejoined the office")
    member.refresh_from_db()
    assert member.is_active
    assert not Membership.objects.active().filter(user=member).exists()
    profile = StaffProfile.objects.get(user=member)
    assert profile.deactivated_at is None
    assert profile.history.first().history_change_reason == "Account opened again: Rejoined the office"
    response = client.post("/accounts/login/", {"username": "member", "password": PASSWORD})
    assert response.status_code == 302


def test_a_closed_account_cannot_sign_in_and_its_session_ends(client, member, dpo):
    client.force_login(member)
    assert client.get("/").status_code == 200
    staff.user_deactivate(user=member, by=dpo, reason="Left")
    assert client.get("/").status_code == 302


def test_a_group_whose_admin_left_says_so(client, group, admin_user, member, dpo):
    staff.user_deactivate(user=admin_user, by=dpo, reason="Left")
    client.force_login(member)
    page = client.get(group.get_absolute_url()).content.decode()
    assert "the admin, has left the organisation" in page
    client.force_login(dpo)
    page = client.get(group.get_absolute_url()).content.decode()
    assert f"/groups/{group.pk}/roles/" in page


def test_closing_an_account_in_the_django_admin_goes_through_the_service(client, group, member, dpo):
    it = UserFactory(username="it", is_staff=True, is_superuser=True)
    client.force_login(it)
    url = f"/admin/auth/user/{member.pk}/change/"
    assert client.get(url).status_code == 200
    data = {
        "username": member.username,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": member.email,
        "date_joined_0": member.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": member.date_joined.strftime("%H:%M:%S"),
        # "is_active" left out: unticked.
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    member.refresh_from_db()
    assert not member.is_active
    assert not Membership.objects.active().filter(user=member).exists()
    profile = StaffProfile.objects.get(user=member)
    assert (profile.deactivated_by, profile.deactivation_reason) == (it, "Closed in the Django admin")


def test_groups_of_a_leaver_admin_are_listed_for_the_dpo(group, admin_user, dpo):
    assert list(staff_selectors.groups_without_admin()) == []
    staff.user_deactivate(user=admin_user, by=dpo, reason="Left")
    assert list(staff_selectors.groups_without_admin()) == [group]
    assert ChatGroup.objects.get(pk=group.pk).admin == admin_user  # until the DPO names a new one
