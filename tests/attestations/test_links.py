"""Signed email links: a GET only shows, the owner's POST records; bad links get a clear page (R6)."""

import datetime as dt
from urllib.parse import quote

import pytest
from django.core import signing
from django.urls import reverse

from attestations.links import SALT, obligation_link_token
from attestations.models import Obligation
from tests.attestations.conftest import PERIOD_END, utc
from tests.factories import HoldFactory

pytestmark = pytest.mark.django_db

CONFIRM = {"cleared_on": "2026-11-13"}


def url_for(obligation) -> str:
    return reverse("attestations:link", args=[obligation_link_token(obligation)])


def test_with_sign_in_required_it_asks_for_sign_in_first_and_comes_back(client, obligation, settings):
    settings.ATTEST_LINK_SIGN_IN_REQUIRED = True
    url = url_for(obligation)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={quote(url)}"


def test_a_get_shows_the_confirm_page_and_records_nothing(client, obligation, member):
    client.force_login(member)
    before = Obligation.history.count()
    html = client.get(url_for(obligation)).content.decode()
    assert "Clear-down of Urgent Ops" in html and "6–13 Nov" in html
    assert "I saved any business information from this chat to a corporate system, then cleared all its" in html
    assert reverse("attestations:howto") in html
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"
    assert Obligation.history.count() == before


def test_the_date_picker_offers_days_from_the_period_end_to_today(client, obligation, member, at):
    at(utc(2026, 11, 16, 10))
    client.force_login(member)
    html = client.get(url_for(obligation)).content.decode()
    assert 'min="2026-11-13"' in html and 'max="2026-11-16"' in html


def test_the_owners_post_records_it_by_email_link(client, obligation, member):
    client.force_login(member)
    response = client.post(url_for(obligation), CONFIRM)
    assert response.status_code == 302 and response["Location"] == url_for(obligation)
    obligation.refresh_from_db()
    assert (obligation.status, obligation.channel) == ("attested", "email")


def test_a_second_post_says_it_is_already_done(client, obligation, member):
    client.force_login(member)
    client.post(url_for(obligation), CONFIRM)
    before = Obligation.history.count()
    response = client.post(url_for(obligation), CONFIRM, follow=True)
    assert "Urgent Ops, 6–13 Nov: recorded" in response.content.decode()
    assert Obligation.history.count() == before


def test_it_refuses_a_missing_date(client, obligation, member):
    client.force_login(member)
    response = client.post(url_for(obligation), {**CONFIRM, "cleared_on": ""})
    assert response.status_code == 200 and "Give the date you cleared the chat" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_it_refuses_a_date_before_the_period_ended(client, obligation, member):
    client.force_login(member)
    response = client.post(url_for(obligation), {**CONFIRM, "cleared_on": "2026-11-10"})
    assert "the period ended on Friday 13 November 2026" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_someone_elses_link_gets_a_clear_page_and_records_nothing(client, obligation, admin_user):
    client.force_login(admin_user)
    for method in (client.get, client.post):
        response = method(url_for(obligation), CONFIRM)
        assert response.status_code == 403
        assert "This link is for someone else" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_a_tampered_link_gets_a_clear_page_and_records_nothing(client, obligation, member):
    client.force_login(member)
    token = obligation_link_token(obligation)
    forged = signing.dumps({"o": obligation.pk + 1, "u": member.pk}, salt="another-purpose")
    for bad in (token[:-3] + "abc", forged, "not-a-token"):
        response = client.post(reverse("attestations:link", args=[bad]), CONFIRM)
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_an_expired_link_gets_a_clear_page_and_records_nothing(client, obligation, member, at):
    url = url_for(obligation)
    at(PERIOD_END + dt.timedelta(days=14, minutes=6))
    client.force_login(member)
    response = client.post(url, CONFIRM)
    assert response.status_code == 410 and "This link has expired" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_a_link_still_works_on_its_last_day(client, obligation, member, at):
    url = url_for(obligation)
    at(PERIOD_END + dt.timedelta(days=13, hours=23))
    client.force_login(member)
    assert client.post(url, {**CONFIRM, "cleared_on": "2026-11-27"}).status_code == 302
    assert Obligation.objects.get(pk=obligation.pk).status == "late"


def test_a_link_signed_for_the_same_ids_with_another_salt_is_refused(client, obligation, member):
    client.force_login(member)
    token = signing.dumps({"o": obligation.pk, "u": member.pk}, salt=SALT + ".other", compress=True)
    assert client.get(reverse("attestations:link", args=[token])).status_code == 400


def test_a_held_clear_down_shows_the_hold_banner_and_no_form(client, obligation, member, dpo):
    from attestations import services

    services.hold_place(group=obligation.cycle.group, by=dpo, reference="FOI-7", reason="Request")
    client.force_login(member)
    html = client.get(url_for(obligation)).content.decode()
    assert "Do NOT clear this chat: information is held for FOI-7" in html
    assert 'name="cleared_on"' not in html
    client.post(url_for(obligation), CONFIRM)
    assert Obligation.objects.get(pk=obligation.pk).status == "held"


def test_an_open_clear_down_of_a_group_under_a_hold_shows_the_banner_and_no_form(client, obligation, member, dpo):
    # A cycle that closed just after a hold was placed: its obligation is pending, the group held.
    HoldFactory(group=obligation.cycle.group, placed_by=dpo, reference="FOI-8")
    client.force_login(member)
    html = client.get(url_for(obligation)).content.decode()
    assert "Do NOT clear this chat: information is held for FOI-8" in html
    assert 'name="cleared_on"' not in html
    client.post(url_for(obligation), CONFIRM)
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_an_auditor_confirms_their_own_clear_down_through_its_link(client, auditor, cycle):
    # A person's duties as a member never depend on their other roles (R12).
    obligation = Obligation.objects.create(cycle=cycle, user=auditor, due_at=cycle.due_at)
    client.force_login(auditor)
    assert client.get(url_for(obligation)).status_code == 200
    assert client.post(url_for(obligation), CONFIRM).status_code == 302
    assert Obligation.objects.get(pk=obligation.pk).status == "attested"


def test_a_date_before_the_period_ended_is_shown_beside_the_date_field(client, obligation, member):
    client.force_login(member)
    html = client.post(url_for(obligation), {**CONFIRM, "cleared_on": "2026-11-10"}).content.decode()
    beside = html.split('id="id_cleared_on_error">', 1)[1].split("</div>", 1)[0]
    assert "the period ended on Friday 13 November 2026" in beside
    assert '<a href="#id_cleared_on">Urgent Ops: the period ended' in html
