"""The emailed link used without signing in (issue 15): it authenticates ONE action.

A GET shows the confirm page and records nothing; a POST from that page records that one
clear-down for the link's owner, by "email link, not signed in". No session is made and
no other page opens; it cannot be replayed, forged, turned on someone else's clear-down
or used for anything else.
"""

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.core import signing
from django.test import Client
from django.urls import reverse

from attestations import services
from attestations.links import SALT, obligation_link_token
from attestations.models import Obligation
from groups import services as group_services
from tests.attestations.conftest import PERIOD_END
from tests.factories import HoldFactory

pytestmark = pytest.mark.django_db

CONFIRM = {"cleared_on": "2026-11-13"}


def url_for(obligation) -> str:
    return reverse("attestations:link", args=[obligation_link_token(obligation)])


def no_session(client) -> bool:
    return "sessionid" not in client.cookies and Session.objects.count() == 0


def test_a_get_shows_the_confirm_page_records_nothing_and_makes_no_session(client, obligation):
    before = Obligation.history.count()
    response = client.get(url_for(obligation))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Clear-down of Urgent Ops" in html and "Confirm my clear-down</button>" in html
    assert 'name="csrfmiddlewaretoken"' in html and "csrftoken" in client.cookies  # a cookie, not a session
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"
    assert Obligation.history.count() == before
    assert no_session(client)


def test_the_post_records_that_clear_down_by_email_link_not_signed_in(client, obligation, member):
    response = client.post(url_for(obligation), {**CONFIRM, "where_saved": "  Case 2026/114 "})
    assert response.status_code == 302 and response["Location"] == url_for(obligation)
    obligation.refresh_from_db()
    assert (obligation.status, obligation.channel) == ("attested", "email_anon")
    assert obligation.cleared_on == dt.date(2026, 11, 13) and obligation.where_saved == "Case 2026/114"
    latest = obligation.history.latest()
    assert latest.history_user == member and latest.history_change_reason == "Attested (email link, not signed in)"
    assert obligation.ledger_entry.obligation_id == obligation.pk  # chained like any attestation
    assert no_session(client)


def test_the_page_after_is_a_receipt_naming_the_group_the_dates_and_when(client, obligation):
    response = client.post(url_for(obligation), CONFIRM, follow=True)
    html = response.content.decode()
    assert "Clear-down recorded" in html and "Urgent Ops, 6–13 Nov: recorded" in html
    assert "Friday 13 November 2026" in html and "by email link, not signed in" in html
    assert no_session(client)


def test_it_opens_no_other_page(client, obligation):
    client.post(url_for(obligation), CONFIRM)
    for name in ("home", "attestations:howto", "groups:register", "password_change"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert no_session(client)


def test_it_works_once_and_reopened_says_it_was_done_and_when(client, obligation):
    client.post(url_for(obligation), CONFIRM)
    obligation.refresh_from_db()
    recorded = obligation.attested_at
    before = Obligation.history.count()
    # Replayed a day later, with another date and note: nothing changes.
    other = Client()
    other.post(url_for(obligation), {"cleared_on": "2026-11-14", "where_saved": "elsewhere"})
    obligation.refresh_from_db()
    assert (obligation.attested_at, obligation.cleared_on, obligation.where_saved) == (
        recorded,
        dt.date(2026, 11, 13),
        "",
    )
    assert Obligation.history.count() == before
    html = other.get(url_for(obligation)).content.decode()
    assert "Clear-down recorded" in html and "Friday 13 November 2026, 17:05" in html
    assert 'name="cleared_on"' not in html


def test_a_forged_or_cut_link_records_nothing(client, obligation, member):
    token = obligation_link_token(obligation)
    forged = [
        token[:-3] + "abc",
        token[:20],
        signing.dumps({"o": obligation.pk, "u": member.pk}, salt=SALT, key="not-the-portal-key"),
        signing.dumps({"o": obligation.pk, "u": member.pk}, salt="attestations.hold-notice-link.v1"),
        "not-a-token",
    ]
    for bad in forged:
        response = client.post(reverse("attestations:link", args=[bad]), CONFIRM)
        assert response.status_code == 400 and "This link does not work" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"
    assert no_session(client)


def test_a_link_naming_someone_elses_clear_down_records_nothing(client, cycle, member, admin_user):
    theirs = cycle.obligations.get(user=admin_user)
    # Signed by the portal, yet naming another's obligation with this member as its owner:
    # only the pair the portal signed together works.
    mixed = signing.dumps({"o": theirs.pk, "u": member.pk}, salt=SALT, compress=True)
    response = client.post(reverse("attestations:link", args=[mixed]), CONFIRM)
    assert response.status_code == 404
    assert Obligation.objects.get(pk=theirs.pk).status == "pending"


def test_the_post_records_only_the_links_clear_down_whatever_else_it_carries(client, cycle, obligation, admin_user):
    theirs = cycle.obligations.get(user=admin_user)
    client.post(url_for(obligation), {**CONFIRM, "obligations": [theirs.pk], "only": theirs.pk})
    assert Obligation.objects.get(pk=obligation.pk).status == "attested"
    assert Obligation.objects.get(pk=theirs.pk).status == "pending"


def test_a_clear_down_link_is_no_hold_acknowledgement(client, obligation, member):
    # Its own salt: even its owner, signed in, cannot use it as another kind of link.
    client.force_login(member)
    response = client.post(reverse("attestations:hold_ack_link", args=[obligation_link_token(obligation)]))
    assert response.status_code == 400


def test_a_post_without_the_pages_csrf_token_is_refused(obligation):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(url_for(obligation), CONFIRM).status_code == 403
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"
    browser.get(url_for(obligation))  # the page sets the CSRF cookie: no session needed
    token = browser.cookies["csrftoken"].value
    response = browser.post(url_for(obligation), {**CONFIRM, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Obligation.objects.get(pk=obligation.pk).status == "attested"
    assert Session.objects.count() == 0


def test_an_expired_link_says_so_and_records_nothing(client, obligation, at):
    url = url_for(obligation)
    at(PERIOD_END + dt.timedelta(days=14, minutes=6))
    response = client.post(url, CONFIRM)
    assert response.status_code == 410 and "This link has expired" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_a_disabled_account_cannot_use_its_link(client, obligation, member):
    member.is_active = False
    member.save()
    response = client.post(url_for(obligation), CONFIRM)
    assert response.status_code == 404
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_a_held_group_says_do_not_clear_and_records_nothing(client, obligation, dpo):
    HoldFactory(group=obligation.cycle.group, placed_by=dpo, reference="FOI-9")
    html = client.get(url_for(obligation)).content.decode()
    assert "Do NOT clear this chat: information is held for FOI-9" in html and 'name="cleared_on"' not in html
    client.post(url_for(obligation), CONFIRM)
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_a_suspended_group_says_why_and_still_takes_the_clear_down(client, obligation, dpo):
    group_services.chatgroup_transition(group=obligation.cycle.group, action="suspend", by=dpo, reason="Review")
    html = client.get(url_for(obligation)).content.decode()
    assert "stopped-banner" in html and 'name="cleared_on"' in html
    client.post(url_for(obligation), CONFIRM)
    assert Obligation.objects.get(pk=obligation.pk).status == "attested"


def test_a_bad_date_is_refused_beside_its_field_with_a_summary(client, obligation):
    html = client.post(url_for(obligation), {"cleared_on": "2026-11-10"}).content.decode()
    assert '<a href="#id_cleared_on">Urgent Ops: the period ended on Friday 13 November 2026' in html
    assert '<details class="attest-details mb-2" open>' in html
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_with_sign_in_required_a_visitor_signs_in_first_and_gets_the_email_channel(
    client, obligation, member, settings
):
    settings.ATTEST_LINK_SIGN_IN_REQUIRED = True
    for method in (client.get, client.post):
        response = method(url_for(obligation), CONFIRM)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"
    client.force_login(member)
    client.post(url_for(obligation), CONFIRM)
    assert Obligation.objects.get(pk=obligation.pk).channel == "email"


def test_signed_in_as_someone_else_the_link_is_refused(client, obligation, admin_user):
    client.force_login(admin_user)
    response = client.post(url_for(obligation), CONFIRM)
    assert response.status_code == 403 and "This link is for someone else" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_two_weeks_of_one_group_each_have_their_own_link(client, obligation, member, at):
    later = at(PERIOD_END + dt.timedelta(days=7, minutes=5))
    services.cycle_close_due(now=later)
    second = Obligation.objects.filter(user=member).exclude(pk=obligation.pk).get()
    client.post(url_for(second), {"cleared_on": "2026-11-20"})
    assert Obligation.objects.get(pk=second.pk).status == "attested"
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"
