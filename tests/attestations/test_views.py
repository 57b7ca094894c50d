"""Clear-down pages for every role: my clear-downs, the group's cycle, prompt, excuse, holds."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attestations import services
from attestations.models import Obligation
from groups.models import Membership
from tests.attestations.conftest import DUE, PERIOD_END, utc
from tests.factories import ChatGroupFactory, HoldFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "member", "outsider", "admin_user", "dpo", "auditor"]
HOME = "/"


def client_for(client, request, role):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    return client


def attest_data(*obligations, cleared_on="2026-11-13", saved=True):
    data = {"obligations": [o.pk for o in obligations], "cleared_on": cleared_on}
    if saved:
        data["confirmed_saved"] = "on"
    return data


def second_group(member, name="Comms On-Call"):
    other = ChatGroupFactory(name=name)
    MembershipFactory(group=other, user=member, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=10))
    return Obligation.objects.get(user=member, cycle__group=other)


# --- My clear-downs -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", [HOME, reverse("attestations:howto")])
def test_every_signed_in_role_reads_home_and_the_how_to(client, request, cycle, role, url):
    response = client_for(client, request, role).get(url)
    assert response.status_code == (302 if role == "anonymous" else 200)


def test_home_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(HOME)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_home_lists_open_clear_downs_with_the_confirmation_deadline_and_time_left(client, obligation, member):
    client.force_login(member)
    html = client.get(HOME).content.decode()
    assert "Urgent Ops <span" in html and "6–13 Nov" in html
    assert "By Sun 15 Nov, 17:00" in html and "1\xa0day, 23\xa0hours left" in html
    assert 'value="2026-11-13"' in html  # the date cleared defaults to today
    assert reverse("attestations:howto") in html
    # The button is the declaration: saving first, then clearing.
    assert "I saved any business information from this chat to a corporate system, then cleared" in html
    assert "Confirm my clear-down</button>" in html


def test_the_date_picker_offers_days_from_the_latest_period_end_to_today(client, group, member, at):
    # Two weeks owed: a day before the later period ended would be refused for that one.
    MembershipFactory(group=group, user=UserFactory(), joined_at=utc(2026, 10, 1))
    Membership.objects.filter(user=member).update(joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=at(PERIOD_END - dt.timedelta(days=7, minutes=-1)))
    services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(minutes=1)))
    at(utc(2026, 11, 14, 10))
    client.force_login(member)
    html = client.get(HOME).content.decode()
    assert html.count('name="obligations"') == 2
    assert 'min="2026-11-13" max="2026-11-14"' in html


def test_home_shows_overdue_clear_downs_first(client, cycle, member, at):
    later = second_group(member, name="AAA First Alphabetically")
    Obligation.objects.filter(pk=later.pk).update(due_at=DUE + dt.timedelta(days=7))
    at(DUE + dt.timedelta(hours=1))
    client.force_login(member)
    html = client.get(HOME).content.decode()
    assert html.index("Urgent Ops") < html.index("AAA First Alphabetically")
    assert "Overdue" in html and "marked late" in html


def test_home_attests_several_groups_in_one_submit(client, obligation, member):
    other = second_group(member)
    client.force_login(member)
    response = client.post(HOME, attest_data(obligation, other), follow=True)
    assert response.redirect_chain == [(HOME, 302)]
    recorded = "Thank you. Comms On-Call, 6–13 Nov; Urgent Ops, 6–13 Nov: recorded."
    assert recorded in response.content.decode()
    statuses = set(Obligation.objects.filter(user=member).values_list("status", "channel"))
    assert statuses == {("attested", "web")}


def test_home_shows_past_attestations_after_submitting(client, obligation, member):
    client.force_login(member)
    client.post(HOME, attest_data(obligation))
    html = client.get(HOME).content.decode()
    assert "Nothing to do" in html and "Cleared on Fri 13 Nov" in html and "by web form" in html


def test_a_second_submit_records_nothing_and_says_it_is_already_done(client, obligation, member):
    client.force_login(member)
    client.post(HOME, attest_data(obligation))
    before = Obligation.history.count()
    response = client.post(HOME, attest_data(obligation), follow=True)
    assert "Urgent Ops, 6–13 Nov: you had already confirmed; nothing new was recorded" in response.content.decode()
    assert Obligation.history.count() == before


def test_a_late_attestation_is_marked_late_everywhere(client, obligation, member, admin_user, at):
    at(DUE + dt.timedelta(hours=3))
    client.force_login(member)
    response = client.post(HOME, attest_data(obligation, cleared_on="2026-11-15"), follow=True)
    assert "marked late" in response.content.decode()
    assert "Done late" in client.get(HOME).content.decode()
    client.force_login(admin_user)
    assert "status-late" in client.get(reverse("groups:detail", args=[obligation.cycle.group_id])).content.decode()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"cleared_on": "2026-11-14"}, "cannot be in the future"),
        ({"cleared_on": "2026-11-12"}, "the period ended on Friday 13 November 2026"),
        ({"cleared_on": ""}, "Give the date you cleared the chat"),
        ({"cleared_on": "13/13/2026"}, "Give a real date"),
        ({"none": True}, "There was nothing to confirm"),
    ],
)
def test_home_refuses_bad_input_with_an_error_summary_and_records_nothing(client, obligation, member, data, message):
    client.force_login(member)
    post = attest_data(obligation, cleared_on=data.get("cleared_on", "2026-11-13"), saved=data.get("saved", True))
    if data.get("none"):
        post.pop("obligations")
    response = client.post(HOME, post)
    html = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in html and message in html
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_home_refuses_another_persons_clear_down_without_saying_whose(client, cycle, member, admin_user):
    theirs = cycle.obligations.get(user=admin_user)
    client.force_login(member)
    before = Obligation.history.count()
    response = client.post(HOME, attest_data(theirs))
    html = response.content.decode()
    assert response.status_code == 200
    assert "One of these clear-downs is not yours, so nothing was recorded." in html
    assert "Grace" not in html and admin_user.username not in html
    assert Obligation.objects.get(pk=theirs.pk).status == "pending"
    assert Obligation.history.count() == before


@pytest.mark.parametrize(
    "value", ["99999999999999999999999", str(2**63), "0", "-1", "1.0", " 1", "\u00b2", "\uff11", "abc", ""]
)
def test_home_refuses_an_id_that_is_not_a_whole_number_in_range(client, obligation, member, value):
    # SQLite cannot bind an integer past 64 bits: such a value must not reach a query.
    client.force_login(member)
    response = client.post(HOME, {**attest_data(obligation), "obligations": [value]})
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_home_refuses_a_held_clear_down_and_shows_the_banner(client, obligation, member, dpo):
    services.hold_place(group=obligation.cycle.group, by=dpo, reference="FOI-2026-0042", reason="FOI request")
    client.force_login(member)
    html = client.get(HOME).content.decode()
    assert "Do NOT clear this chat: information is held for FOI-2026-0042" in html
    response = client.post(HOME, attest_data(obligation))
    assert "do NOT clear" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "held"


def test_home_does_not_offer_an_open_clear_down_of_a_group_under_a_hold(client, obligation, member, dpo):
    # The cycle closed just after the hold was placed, so its obligation is still pending.
    other = second_group(member)
    HoldFactory(group=obligation.cycle.group, placed_by=dpo, reference="FOI-2026-0042")
    client.force_login(member)
    html = client.get(HOME).content.decode()
    assert "Do NOT clear this chat: information is held for FOI-2026-0042" in html
    assert f'value="{obligation.pk}"' not in html and "I have cleared all messages in Urgent Ops" not in html
    assert f'value="{other.pk}"' in html
    response = client.post(HOME, attest_data(obligation))
    assert "Urgent Ops is on hold: do NOT clear this chat" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_an_auditor_cannot_confirm_someone_elses_clear_down_from_home(client, auditor, obligation):
    # Their own they confirm like anyone (R12, tests/test_role_combinations.py); another's is
    # not among their choices, so nothing is recorded.
    client.force_login(auditor)
    response = client.post(HOME, attest_data(obligation))
    assert response.status_code == 200 and "is not yours" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def add_groups(member, n: int) -> None:
    """n more groups with `member` in them, closed, a third of them attested."""
    for _ in range(n):
        MembershipFactory(group=ChatGroupFactory(), user=member, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=1))
    pending = list(Obligation.objects.filter(user=member, status="pending"))
    services.obligation_attest(
        obligations=pending[: n // 3],
        user=member,
        cleared_on=dt.date(2026, 11, 13),
        confirmed_cleared=True,
        confirmed_saved=True,
    )


def test_home_query_count_stays_flat_from_3_to_30_groups(client, member, at, django_assert_num_queries):
    at(PERIOD_END + dt.timedelta(minutes=5))
    client.force_login(member)
    add_groups(member, 3)
    small = count_queries(client, HOME)
    add_groups(member, 27)
    with django_assert_num_queries(small):
        response = client.get(HOME)
    assert response.content.decode().count('name="obligations"') == 20


def test_the_how_to_page_gives_iphone_and_android_steps(client, member):
    client.force_login(member)
    html = client.get(reverse("attestations:howto")).content.decode()
    assert "On an iPhone" in html and "On an Android phone" in html and "Clear Chat" in html


def test_the_how_to_page_needs_sign_in(client):
    assert client.get(reverse("attestations:howto")).status_code == 302


def test_a_date_before_the_period_ended_is_shown_beside_the_date_field(client, obligation, member):
    client.force_login(member)
    html = client.post(HOME, attest_data(obligation, cleared_on="2026-11-12")).content.decode()
    beside = html.split('id="id_cleared_on_error">', 1)[1].split("</div>", 1)[0]
    assert "the period ended on Friday 13 November 2026" in beside
    # The summary at the top links to the field instead of standing alone.
    assert '<a href="#id_cleared_on">Urgent Ops: the period ended' in html
    assert '<details class="attest-details mb-2" open>' in html  # the folded field is shown


def test_confirming_two_weeks_of_one_group_names_the_dates_of_each(client, obligation, member, at):
    later = at(PERIOD_END + dt.timedelta(days=7, minutes=5))
    services.cycle_close_due(now=later)
    both = Obligation.objects.filter(user=member).order_by("cycle__period_end")
    assert len(both) == 2
    client.force_login(member)
    response = client.post(HOME, attest_data(*both, cleared_on="2026-11-20"), follow=True)
    html = response.content.decode()
    assert "Urgent Ops, 13–20 Nov: recorded." in html
    assert "Urgent Ops, 6–13 Nov: recorded, marked late (after the deadline)." in html


def test_a_rows_own_button_confirms_only_that_clear_down(client, obligation, member):
    other = second_group(member)
    client.force_login(member)
    html = client.get(HOME).content.decode()
    assert "Confirm all 2 clear-downs" in html and f'name="only" value="{other.pk}"' in html
    response = client.post(HOME, {**attest_data(obligation, other), "only": other.pk}, follow=True)
    assert "Comms On-Call, 6–13 Nov: recorded." in response.content.decode()
    assert Obligation.objects.get(pk=other.pk).status == "attested"
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


@pytest.mark.parametrize("value", ["abc", "0", str(2**63)])
def test_a_rows_button_with_a_bad_id_records_nothing(client, obligation, member, value):
    client.force_login(member)
    response = client.post(HOME, {**attest_data(obligation), "only": value})
    assert response.status_code == 200 and "That clear-down is not yours" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_a_rows_button_naming_someone_elses_clear_down_records_nothing(client, cycle, obligation, member, admin_user):
    theirs = cycle.obligations.get(user=admin_user)
    client.force_login(member)
    response = client.post(HOME, {**attest_data(obligation), "only": theirs.pk})
    assert "That clear-down is not yours" in response.content.decode()
    assert set(Obligation.objects.values_list("status", flat=True)) == {"pending"}


def test_where_saved_is_kept_and_shown_in_the_past_list(client, obligation, member):
    client.force_login(member)
    client.post(HOME, {**attest_data(obligation), "where_saved": " Case\u200b 2026/114 "})
    assert Obligation.objects.get(pk=obligation.pk).where_saved == "Case\u200b 2026/114"
    assert "Saved to: Case" in client.get(HOME).content.decode()


def test_an_overlong_where_saved_is_refused_beside_its_field(client, obligation, member):
    client.force_login(member)
    html = client.post(HOME, {**attest_data(obligation), "where_saved": "x" * 201}).content.decode()
    assert '<a href="#id_where_saved">Keep where you saved it to 200 characters.</a>' in html
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"
