"""Admins add several people in one round trip (issue 15): ticked or pasted, with a summary."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from groups import services
from groups.forms import pasted_entries
from groups.models import Membership
from tests.factories import ChatGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def add_url(group) -> str:
    return reverse("groups:member_add", args=[group.pk])


def members(group) -> set[str]:
    return set(Membership.objects.active().filter(group=group).values_list("user__username", flat=True))


def test_pasted_text_gives_each_address_or_username_once():
    text = 'Jo Bloggs <Jo.Bloggs@example.org>; "Sam Lee" <sam@example.org>\nann, jo.bloggs@example.org\n\n  zed  '
    assert pasted_entries(text) == ["Jo.Bloggs@example.org", "sam@example.org", "ann", "zed"]


def test_the_admin_ticks_several_people_from_the_search_and_adds_them_at_once(client, admin_user, group):
    jo = UserFactory(username="jo", first_name="Jo", last_name="Bloggs")
    sam = UserFactory(username="sam", first_name="Sam", last_name="Bloggs")
    client.force_login(admin_user)
    html = client.get(add_url(group), {"q": "bloggs"}).content.decode()
    assert 'name="people"' in html and "Results: tick everyone to add" in html
    response = client.post(add_url(group), {"people": [jo.pk, sam.pk]}, follow=True)
    assert response.redirect_chain[-1][0] == group.get_absolute_url()
    assert "Added to Urgent Ops (2): Jo Bloggs and Sam Bloggs." in response.content.decode()
    assert {"jo", "sam"} <= members(group)
    history = Membership.history.filter(user=jo).latest()
    assert history.history_user == admin_user and history.history_change_reason == "Added"


def test_a_pasted_list_says_who_was_added_already_in_disabled_or_not_found(client, admin_user, group, member):
    UserFactory(username="ann", email="ann@example.org", first_name="Ann", last_name="Other")
    UserFactory(username="bob", email="Bob@Example.org", first_name="Bob", last_name="Brown")
    UserFactory(username="gone", email="gone@example.org", first_name="Gone", last_name="Away", is_active=False)
    UserFactory(username="twin1", email="shared@example.org")
    UserFactory(username="twin2", email="shared@example.org")
    client.force_login(admin_user)
    pasted = (
        f"ANN\nBob Brown <bob@example.org>; {member.username}, gone@example.org, nobody@example.org, shared@example.org"
    )
    response = client.post(add_url(group), {"pasted": pasted}, follow=True)
    html = response.content.decode()
    assert "Added to Urgent Ops (2): Ann Other and Bob Brown." in html
    assert f"Already members: {member.get_full_name()}." in html
    assert "Not added, their accounts are disabled: Gone Away." in html
    assert "Not found: nobody@example.org." in html
    assert "Several accounts share shared@example.org: paste their usernames instead." in html
    assert members(group) >= {"ann", "bob"} and "gone" not in members(group)


def test_nothing_found_keeps_the_list_on_the_page_and_adds_nobody(client, admin_user, group):
    client.force_login(admin_user)
    before = Membership.objects.count()
    response = client.post(add_url(group), {"pasted": "nobody@example.org, ghost"})
    html = response.content.decode()
    assert response.status_code == 200 and "Nobody new was added." in html
    assert "Not found: nobody@example.org, ghost." in html and ">nobody@example.org, ghost</textarea>" in html
    assert Membership.objects.count() == before


def test_an_empty_submit_says_what_to_do(client, admin_user, group):
    client.force_login(admin_user)
    html = client.post(add_url(group), {"pasted": "  "}).content.decode()
    assert "There is a problem" in html and "Tick the people to add, or paste" in html


def test_a_list_of_too_many_people_is_refused_whole(client, admin_user, group):
    client.force_login(admin_user)
    html = client.post(add_url(group), {"pasted": ", ".join(f"p{i}" for i in range(201))}).content.decode()
    assert "That names 201 people; add at most 200 at a time." in html


def test_only_those_who_run_the_group_may_add_several(client, member, outsider, group):
    UserFactory(username="newcomer")
    for person in (member, outsider):
        client.force_login(person)
        assert client.post(add_url(group), {"pasted": "newcomer"}).status_code == 403
    assert "newcomer" not in members(group)


def test_a_retired_group_takes_nobody(client, admin_user, dpo, group):
    UserFactory(username="late")
    services.chatgroup_transition(group=group, action="retire", by=dpo, reason="Done")
    client.force_login(dpo)
    html = client.post(add_url(group), {"pasted": "late"}).content.decode()
    assert "membership can no longer be changed" in html and "late" not in members(group)


def test_adding_3_or_30_people_costs_the_same_queries(client, admin_user, django_assert_num_queries):
    client.force_login(admin_user)
    small, large = ChatGroupFactory(name="Small", admin=admin_user), ChatGroupFactory(name="Large", admin=admin_user)
    few = [UserFactory(username=f"few{i}") for i in range(3)]
    many = [UserFactory(username=f"many{i}") for i in range(30)]
    with CaptureQueriesContext(connection) as three:
        client.post(add_url(small), {"pasted": " ".join(u.username for u in few)})
    with django_assert_num_queries(len(three)):
        client.post(add_url(large), {"pasted": " ".join(u.username for u in many)})
    assert len(members(large)) == 31
