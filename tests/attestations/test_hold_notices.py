"""Holds that reach people (issue 20): the notice to every member, its acknowledgement,
reminder, escalation, the DPO's review and the release."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse

from attestations import hold_notices, links, outbox
from attestations.models import Hold, HoldNotice, SentEmail
from attestations.notifications import holds
from tests.attestations.conftest import lock_queries, utc
from tests.conftest import run_at_once
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

Kind = SentEmail.Kind
NOW = utc(2026, 11, 14, 9)  # a Saturday morning
INSTRUCTION = "Do not clear, delete, or leave this chat; do not turn on disappearing messages."


@pytest.fixture
def place(at, dpo, django_capture_on_commit_callbacks):
    """Place a hold on a group at NOW, with its emails sent there and then."""

    def run(group, when=NOW, **kwargs):
        at(when)
        with django_capture_on_commit_callbacks(execute=True):
            return hold_notices.hold_place(
                group=group, by=dpo, reference="FOI-2026-0042", reason="FOI request about the rota", now=when, **kwargs
            )

    return run


@pytest.fixture
def hold_sweep(at, django_capture_on_commit_callbacks):
    def run(when):
        at(when)
        with django_capture_on_commit_callbacks(execute=True):
            return holds.sweep(now=when)

    return run


@pytest.fixture
def lift(at, dpo, django_capture_on_commit_callbacks):
    def run(hold, when):
        at(when)
        with django_capture_on_commit_callbacks(execute=True):
            return hold_notices.hold_lift(hold=hold, by=dpo, reason="Request answered", now=when)

    return run


def to(kind):
    return sorted(e.to_address for e in SentEmail.objects.filter(kind=kind, status="sent"))


def mails(subject_start):
    return [m for m in mail.outbox if m.subject.startswith(subject_start)]


# --- The notice -------------------------------------------------------------------------


def test_it_emails_every_current_member_a_notice_once_when_the_hold_is_placed(place, group, admin_user, member):
    left = UserFactory(username="leaver")
    MembershipFactory(group=group, user=left, left_at=utc(2026, 11, 1))
    disabled = UserFactory(username="disabled", is_active=False)
    MembershipFactory(group=group, user=disabled)
    hold = place(group)
    assert to(Kind.HOLD_NOTICE) == sorted([admin_user.email, member.email])
    assert set(hold.notices.values_list("user_id", flat=True)) == {admin_user.pk, member.pk}
    assert set(hold.notices.values_list("notified_at", flat=True)) == {NOW}
    [message] = [m for m in mail.outbox if m.to == [member.email]]
    assert message.subject == "HOLD FOI-2026-0042: do not clear the Urgent Ops chat"
    html = message.alternatives[0][0]
    notice = hold.notices.get(user=member)
    for body in (message.body, html):
        assert "FOI-2026-0042" in body and INSTRUCTION in body
        assert f"http://testserver/clear-downs/holds/notice/{links.hold_notice_link_token(notice)}/" in body
        assert "section 77" in body


def test_it_queues_the_notices_in_the_holds_own_transaction(dpo, group, at):
    at(NOW)
    hold = hold_notices.hold_place(group=group, by=dpo, reference="FOI-1", reason="Request", now=NOW, queue=False)
    emails = SentEmail.objects.filter(kind=Kind.HOLD_NOTICE)
    assert emails.count() == 2 and set(emails.values_list("status", flat=True)) == {"pending"}
    assert set(emails.values_list("group_id", flat=True)) == {hold.group_id}
    assert set(emails.values_list("key", flat=True)) == {f"hold-notice:n{n.pk}" for n in hold.notices.all()}


def test_a_refused_hold_sends_nothing(place, group):
    place(group)
    mail.outbox.clear()
    with pytest.raises(Exception, match="already on hold"):
        place(group)
    assert mail.outbox == [] and HoldNotice.objects.count() == 2


def test_it_keeps_history_of_each_notice(place, group, member, dpo):
    hold = place(group)
    record = HoldNotice.history.get(hold_id=hold.pk, user_id=member.pk)
    assert record.history_user == dpo and record.history_change_reason == "Hold notice: FOI-2026-0042"


def test_it_tells_a_member_who_joins_while_the_hold_stands_at_the_next_sweep(place, hold_sweep, group):
    hold = place(group)
    newcomer = UserFactory(username="newcomer")
    MembershipFactory(group=group, user=newcomer, joined_at=NOW + dt.timedelta(hours=1))
    hold_sweep(NOW + dt.timedelta(hours=1, minutes=15))
    hold_sweep(NOW + dt.timedelta(hours=1, minutes=30))
    assert to(Kind.HOLD_NOTICE).count(newcomer.email) == 1
    assert hold.notices.get(user=newcomer).notified_at == NOW + dt.timedelta(hours=1, minutes=15)


def test_a_notice_that_failed_for_a_reason_that_may_pass_is_made_again_until_sent(place, hold_sweep, group, member):
    # The mail server was down past every retry (or the member had no address): the notice is
    # made again by the sweep, as every other email is, until it is sent or acknowledged.
    hold = place(group)
    failed = SentEmail.objects.get(kind=Kind.HOLD_NOTICE, user=member)
    SentEmail.objects.filter(pk=failed.pk).update(status="failed", sent_at=None, retry_later=True)
    refused = SentEmail.objects.exclude(user=member).get(kind=Kind.HOLD_NOTICE)
    SentEmail.objects.filter(pk=refused.pk).update(status="failed", sent_at=None, retry_later=False)  # a 5xx: not again
    hold_sweep(NOW + dt.timedelta(minutes=15))
    hold_sweep(NOW + dt.timedelta(minutes=30))
    again = SentEmail.objects.filter(kind=Kind.HOLD_NOTICE, user=member).exclude(pk=failed.pk)
    assert [e.status for e in again] == ["sent"] and again[0].key == failed.key
    assert SentEmail.objects.filter(kind=Kind.HOLD_NOTICE, user=refused.user).count() == 1
    hold.notices.filter(user=member).update(
        acknowledged_at=NOW + dt.timedelta(minutes=40), channel=HoldNotice.Channel.WEB
    )
    SentEmail.objects.filter(pk=again[0].pk).update(status="failed", sent_at=None, retry_later=True)
    hold_sweep(NOW + dt.timedelta(minutes=45))  # acknowledged since: no longer needed
    assert SentEmail.objects.filter(kind=Kind.HOLD_NOTICE, user=member).count() == 2


def test_the_notice_email_goes_out_although_the_group_is_on_hold(place, group):
    # Every other email about a group on hold is cancelled at sending (R9); this one is why.
    place(group)
    assert SentEmail.objects.filter(kind=Kind.HOLD_NOTICE).exclude(status="sent").count() == 0


def test_a_notice_not_yet_sent_when_the_hold_is_lifted_is_not_sent(at, dpo, group, django_capture_on_commit_callbacks):
    at(NOW)
    hold = hold_notices.hold_place(group=group, by=dpo, reference="FOI-1", reason="Request", now=NOW, queue=False)
    hold_notices.hold_lift(hold=hold, by=dpo, reason="Sent in error", now=NOW, queue=False)

    for email in SentEmail.objects.filter(kind=Kind.HOLD_NOTICE):
        outbox.sentemail_send(sent_email_id=email.pk, now=NOW)
        email.refresh_from_db()
        assert email.status == "cancelled" and "lifted" in email.error


# --- Acknowledging ----------------------------------------------------------------------


def test_the_link_shows_a_page_and_records_nothing_until_posted(place, group, member, client):
    hold = place(group)
    notice = hold.notices.get(user=member)
    url = reverse("attestations:hold_ack_link", args=[links.hold_notice_link_token(notice)])
    client.force_login(member)
    page = client.get(url)
    assert page.status_code == 200 and INSTRUCTION in page.content.decode()
    assert f'action="{url}"' in page.content.decode()  # the form posts back to the link
    notice.refresh_from_db()
    assert notice.acknowledged_at is None
    response = client.post(url, follow=True)
    assert "You have acknowledged the hold FOI-2026-0042" in response.content.decode()
    notice.refresh_from_db()
    assert notice.acknowledged_at == NOW and notice.channel == "email"
    assert notice.history.latest().history_user == member


def test_a_repeat_records_nothing_and_says_when_it_was_acknowledged(place, group, member, client, at):
    hold = place(group)
    notice = hold.notices.get(user=member)
    url = reverse("attestations:hold_ack_link", args=[links.hold_notice_link_token(notice)])
    client.force_login(member)
    client.post(url)
    at(NOW + dt.timedelta(minutes=30))
    history = notice.history.count()
    response = client.post(url, follow=True)
    assert "already acknowledged the hold FOI-2026-0042 on 14 November 2026 at 09:00" in response.content.decode()
    response = client.post(reverse("attestations:hold_ack", args=[hold.pk]), follow=True)
    assert "already acknowledged" in response.content.decode()
    notice.refresh_from_db()
    assert notice.acknowledged_at == NOW and notice.channel == "email" and notice.history.count() == history
    assert HoldNotice.objects.filter(hold=hold, user=member).count() == 1


def test_a_member_acknowledges_from_the_home_page(place, group, member, client):
    hold = place(group)
    client.force_login(member)
    home = client.get(reverse("home")).content.decode()
    assert "I will not clear this chat until I am told the hold has ended" in home
    client.post(reverse("attestations:hold_ack", args=[hold.pk]))
    notice = hold.notices.get(user=member)
    assert notice.acknowledged_at == NOW and notice.channel == "web"
    assert "You acknowledged this hold on Sat 14 Nov 2026, 09:00" in client.get(reverse("home")).content.decode()


def test_a_member_who_joined_since_the_sweep_can_acknowledge_at_once(place, group, client):
    hold = place(group)
    newcomer = UserFactory(username="newcomer")
    MembershipFactory(group=group, user=newcomer, joined_at=NOW)
    client.force_login(newcomer)
    client.post(reverse("attestations:hold_ack", args=[hold.pk]))
    assert hold.notices.get(user=newcomer).acknowledged_at == NOW


def test_someone_outside_the_group_cannot_acknowledge(place, group, outsider, client):
    hold = place(group)
    client.force_login(outsider)
    assert client.post(reverse("attestations:hold_ack", args=[hold.pk])).status_code == 403
    assert not hold.notices.filter(user=outsider).exists()


def test_a_link_is_its_owners_only_and_expires(place, group, member, admin_user, client, at, settings):
    hold = place(group)
    notice = hold.notices.get(user=member)
    url = reverse("attestations:hold_ack_link", args=[links.hold_notice_link_token(notice)])
    client.force_login(admin_user)
    assert client.post(url).status_code == 403
    client.force_login(member)
    bad = reverse("attestations:hold_ack_link", args=["not-a-token"])
    assert client.get(bad).status_code == 400
    at(NOW + dt.timedelta(days=settings.HOLD_ACK_LINK_MAX_AGE_DAYS, seconds=1))
    client.force_login(member)  # a new session: the first one ended long ago
    assert client.post(url).status_code == 410
    notice.refresh_from_db()
    assert notice.acknowledged_at is None


def test_a_clear_down_link_is_not_an_acknowledgement_link(place, group, member, client):
    hold = place(group)
    notice = hold.notices.get(user=member)
    from django.core import signing

    forged = signing.dumps({"n": notice.pk, "u": member.pk}, salt=links.SALT, compress=True)
    client.force_login(member)
    assert client.post(reverse("attestations:hold_ack_link", args=[forged])).status_code == 400


def test_acknowledging_a_lifted_hold_says_it_has_ended(place, lift, group, member, client):
    hold = place(group)
    lift(hold, NOW + dt.timedelta(days=1))
    client.force_login(member)
    response = client.post(reverse("attestations:hold_ack", args=[hold.pk]), follow=True)
    assert "ended on 15 November 2026" in response.content.decode()
    assert hold.notices.get(user=member).acknowledged_at is None


# --- Reminders, escalation, review ----------------------------------------------------------


def test_it_reminds_once_and_escalates_once_those_who_have_not_acknowledged(
    place, hold_sweep, group, member, admin_user, dpo, settings
):
    hold = place(group)
    hold_notices.hold_notice_acknowledge(hold=hold, user=admin_user, channel="web", now=NOW)
    hold_sweep(NOW + dt.timedelta(hours=23, minutes=45))
    assert to(Kind.HOLD_REMINDER) == []
    for hours in (24, 25, 30):
        hold_sweep(NOW + dt.timedelta(hours=hours))
    assert to(Kind.HOLD_REMINDER) == [member.email]
    [reminder] = mails("Reminder: HOLD FOI-2026-0042")
    assert "You have not yet acknowledged this hold" in reminder.body and INSTRUCTION in reminder.body
    assert to(Kind.HOLD_ESCALATION) == []
    for hours in (48, 49, 72):
        hold_sweep(NOW + dt.timedelta(hours=hours))
    assert to(Kind.HOLD_ESCALATION) == [dpo.email]
    [escalation] = mails("1 member has not acknowledged")
    assert "Morgan Lee" in escalation.body and "Grace Adeyemi" not in escalation.body
    assert f"/clear-downs/holds/{hold.pk}/" in escalation.alternatives[0][0]
    notice = hold.notices.get(user=member)
    assert notice.reminded_at == NOW + dt.timedelta(hours=24) and notice.escalated_at == NOW + dt.timedelta(hours=48)


def test_a_member_who_acknowledges_after_the_reminder_was_queued_is_not_sent_it(place, group, member, at):
    hold = place(group)
    at(NOW + dt.timedelta(hours=24))
    holds.reminders_queue(now=NOW + dt.timedelta(hours=24), queue=False)
    hold_notices.hold_notice_acknowledge(hold=hold, user=member, channel="web", now=NOW + dt.timedelta(hours=24))

    email = SentEmail.objects.get(kind=Kind.HOLD_REMINDER, user=member)
    outbox.sentemail_send(sent_email_id=email.pk, now=NOW + dt.timedelta(hours=24))
    email.refresh_from_db()
    assert email.status == "cancelled" and email.error == "already acknowledged"


def test_nothing_is_reminded_or_escalated_after_the_hold_is_lifted(place, lift, hold_sweep, group):
    hold = place(group)
    lift(hold, NOW + dt.timedelta(hours=1))
    hold_sweep(NOW + dt.timedelta(hours=72))
    assert to(Kind.HOLD_REMINDER) == [] and to(Kind.HOLD_ESCALATION) == []


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_remind_and_escalate_once(group, dpo, at, eager_celery):
    if lock_queries() == 0:
        pytest.skip("the race needs PostgreSQL")
    at(NOW)
    hold = hold_notices.hold_place(group=group, by=dpo, reference="FOI-1", reason="Request", now=NOW, queue=False)
    later = NOW + dt.timedelta(hours=49)
    outcomes = run_at_once(*[lambda: holds.sweep(now=later, queue=False)] * 4)
    assert outcomes == ["ok"] * 4
    assert SentEmail.objects.filter(kind=Kind.HOLD_REMINDER).count() == hold.notices.count() == 2
    assert SentEmail.objects.filter(kind=Kind.HOLD_ESCALATION).count() == 1  # one DPO


def test_the_sweep_step_runs_the_same_queries_for_5_or_30_members(
    dpo, at, django_assert_num_queries, django_capture_on_commit_callbacks
):
    def world(n):
        group = ChatGroupFactory()
        for _ in range(n - 1):
            MembershipFactory(group=group)
        at(NOW)
        hold_notices.hold_place(group=group, by=dpo, reference=f"FOI-{n}", reason="Request", now=NOW, queue=False)
        newcomers = [MembershipFactory(group=group, joined_at=NOW) for _ in range(n // 5)]
        return newcomers

    counts = []
    for n in (5, 30):
        world(n)
        later = NOW + dt.timedelta(hours=49 + n)  # notices, reminders and escalations all due
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            holds.sweep(now=later, queue=False)
        counts.append(len(ctx.captured_queries))
        HoldNotice.objects.update(reminded_at=later, escalated_at=later)
    assert counts[0] == counts[1]
    # Nothing due: per step its savepoint (in the test's transaction), its lock and one read;
    # the escalation also reads the DPOs, the review the DPOs and the due holds.
    with django_assert_num_queries(5 * (2 + lock_queries()) + 7):
        holds.sweep(now=NOW + dt.timedelta(days=4), queue=False)


def test_a_long_hold_asks_the_dpo_to_review_it_once_per_period(place, hold_sweep, group, dpo, settings):
    hold = place(group)
    hold_notices.hold_notice_acknowledge(hold=hold, user=group.admin, channel="web", now=NOW)
    days = settings.HOLD_REVIEW_DAYS
    hold_sweep(NOW + dt.timedelta(days=days - 1))
    assert to(Kind.HOLD_REVIEW) == []
    hold_sweep(NOW + dt.timedelta(days=days))
    hold_sweep(NOW + dt.timedelta(days=days, hours=1))
    assert to(Kind.HOLD_REVIEW) == [dpo.email]
    [review] = mails("Review the hold FOI-2026-0042")
    assert f"{days} days" in review.body and "/clear-downs/holds/" in review.body
    hold_sweep(NOW + dt.timedelta(days=2 * days))
    assert to(Kind.HOLD_REVIEW) == [dpo.email, dpo.email]
    hold.refresh_from_db()
    assert hold.review_reminded_at == NOW + dt.timedelta(days=2 * days)


# --- Release --------------------------------------------------------------------------------


def test_lifting_tells_everyone_who_had_the_notice_when_the_next_clear_down_is_due(
    place, lift, hold_sweep, group, member, admin_user
):
    hold = place(group)
    leaver = UserFactory(username="leaver")
    membership = MembershipFactory(group=group, user=leaver)
    hold_sweep(NOW + dt.timedelta(minutes=15))
    membership.left_at = NOW + dt.timedelta(hours=1)
    membership.save()
    lift(hold, utc(2026, 11, 16, 10))  # Monday
    lift_time = utc(2026, 11, 16, 10)
    assert to(Kind.HOLD_RELEASE) == sorted([admin_user.email, member.email, leaver.email])
    [release] = [m for m in mails("Hold FOI-2026-0042 ended") if m.to == [member.email]]
    # The group closes on Fridays at 17:00: the next week ends Fri 20 Nov, due 48 hours later.
    assert "the week ending Friday 20 November, 17:00" in release.body
    assert "by Sunday 22 November, 17:00" in release.body
    assert set(hold.notices.values_list("released_at", flat=True)) == {lift_time}


def test_a_second_lift_sends_no_second_release(place, lift, group):
    hold = place(group)
    lift(hold, NOW + dt.timedelta(days=1))
    with pytest.raises(Exception, match="already lifted"):
        lift(hold, NOW + dt.timedelta(days=2))
    assert SentEmail.objects.filter(kind=Kind.HOLD_RELEASE).count() == 2


# --- The chat message and the hold's page ----------------------------------------------------


def test_the_admin_gets_the_message_for_the_chat_and_records_posting_it(place, group, admin_user, client):
    hold = place(group)
    client.force_login(admin_user)
    page = client.get(group.get_absolute_url()).content.decode()
    assert 'id="hold-chat-text"' in page and "copy-button" in page
    assert INSTRUCTION in page and "FOI-2026-0042" in page
    response = client.post(reverse("attestations:hold_chat_posted", args=[hold.pk]), follow=True)
    assert "Recorded: the hold message was posted" in response.content.decode()
    hold.refresh_from_db()
    assert hold.chat_posted_at == NOW and hold.chat_posted_by == admin_user
    assert hold.history.latest().history_change_reason == "Hold message posted in the chat"
    client.post(reverse("attestations:hold_chat_posted", args=[hold.pk]))
    assert hold.history.filter(history_change_reason="Hold message posted in the chat").count() == 1


def test_a_plain_member_gets_no_chat_message_and_cannot_record_posting(place, group, member, auditor, client):
    hold = place(group)
    client.force_login(member)
    assert 'id="hold-chat-text"' not in client.get(group.get_absolute_url()).content.decode()
    assert client.post(reverse("attestations:hold_chat_posted", args=[hold.pk])).status_code == 403
    client.force_login(auditor)
    assert client.post(reverse("attestations:hold_chat_posted", args=[hold.pk])).status_code == 403
    assert Hold.objects.get(pk=hold.pk).chat_posted_at is None


def test_after_lifting_the_admin_gets_the_release_message(place, lift, group, admin_user, client):
    hold = place(group)
    lift(hold, utc(2026, 11, 16, 10))
    client.force_login(admin_user)
    page = client.get(group.get_absolute_url()).content.decode()
    assert "The hold has ended: tell the chat" in page
    assert "the next is for the week ending Fri 20 Nov 2026, 17:00" in page


def test_the_hold_page_shows_who_acknowledged_and_who_has_not(
    place, group, member, admin_user, dpo, client, django_assert_max_num_queries
):
    hold = place(group)
    hold_notices.hold_notice_acknowledge(hold=hold, user=admin_user, channel="web", now=NOW)
    for _ in range(10):
        MembershipFactory(group=group)
    client.force_login(dpo)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("attestations:hold_detail", args=[hold.pk])).content.decode()
    assert "2 members told; 1 acknowledged; 1 not acknowledged; 10 joined since" in page
    assert "14 Nov 2026, 09:00 (home page)" in page and "<strong>not acknowledged</strong>" in page
    assert INSTRUCTION in page


def test_the_hold_page_is_the_dpos_auditors_and_the_admins_only(place, group, member, auditor, admin_user, client):
    hold = place(group)
    url = reverse("attestations:hold_detail", args=[hold.pk])
    for user, code in ((member, 403), (auditor, 200), (admin_user, 200)):
        client.force_login(user)
        assert client.get(url).status_code == code
    hidden = ChatGroupFactory(status="proposed")
    other = Hold.objects.create(group=hidden, reference="X", reason="Y", placed_by=admin_user, placed_at=NOW)
    client.force_login(member)
    assert client.get(reverse("attestations:hold_detail", args=[other.pk])).status_code == 404


# --- The record -------------------------------------------------------------------------------


def test_the_foi_pack_lists_who_was_told_and_who_acknowledged(place, group, member, admin_user, dpo, client):
    hold = place(group)
    hold_notices.hold_notice_acknowledge(hold=hold, user=member, channel="email", now=NOW)
    client.force_login(dpo)
    page = client.get(reverse("audit:foi_pack"), {"group": group.pk}).content.decode()
    assert "Members told of hold FOI-2026-0042" in page
    assert "Morgan Lee: told 14 Nov 2026, 09:00; acknowledged 14 Nov 2026, 09:00 (email link)" in page
    assert "Grace Adeyemi: told 14 Nov 2026, 09:00; not acknowledged" in page


def test_the_hold_notices_export_and_the_history_browser_include_them(place, group, member, dpo, client):
    hold = place(group)
    hold_notices.hold_notice_acknowledge(hold=hold, user=member, channel="web", now=NOW)
    client.force_login(dpo)
    response = client.get(reverse("audit:export", args=["hold_notices", "csv"]))
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].lstrip("\ufeff").startswith("notice_id,hold_id,reference")
    assert "FOI-2026-0042" in body and "member" in body and ",web," in body
    history = client.get(reverse("audit:history"), {"kind": "hold_notice"}).content.decode()
    assert "Acknowledged (home page)" in history


def test_the_emails_page_names_the_hold_emails(place, group, dpo, client):
    place(group)
    client.force_login(dpo)
    page = client.get(reverse("dashboard:emails"), {"kind": "hold_notice"}).content.decode()
    assert "Hold notice: do not clear" in page


@pytest.mark.django_db(transaction=True)
def test_a_lift_while_a_member_is_acknowledging_still_tells_them(group, member, dpo, at, eager_celery):
    if lock_queries() == 0:
        pytest.skip("row locks need PostgreSQL")
    import threading

    from django.db import connections, transaction

    at(NOW)
    hold = hold_notices.hold_place(group=group, by=dpo, reference="FOI-1", reason="Request", now=NOW, queue=False)
    locked, release = threading.Event(), threading.Event()

    def acknowledging():  # holds the member's notice row, as an acknowledgement in progress does
        try:
            with transaction.atomic():
                HoldNotice.objects.select_for_update().get(hold=hold, user=member)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=acknowledging)
    thread.start()
    assert locked.wait(10)
    threading.Timer(1.0, release.set).start()
    hold_notices.hold_lift(hold=hold, by=dpo, reason="Answered", now=NOW + dt.timedelta(hours=1), queue=False)
    thread.join(10)
    assert SentEmail.objects.filter(kind=Kind.HOLD_RELEASE, user=member).count() == 1
    assert HoldNotice.objects.filter(hold=hold, released_at__isnull=True).count() == 0


def test_the_group_dashboard_links_each_hold_to_its_record(place, group, dpo, client):
    hold = place(group)
    client.force_login(dpo)
    page = client.get(reverse("dashboard:group", args=[group.pk])).content.decode()
    assert f'href="{reverse("attestations:hold_detail", args=[hold.pk])}"' in page
