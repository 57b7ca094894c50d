"""Arbitrary input thrown at every register form: never a server error, nothing saved on refusal."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groups.models import ChatGroup, Membership

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
text = st.text(max_size=3000)
anything = st.one_of(text, st.integers().map(str), st.just(""), st.sampled_from(["0", "-1", "9" * 30, "1e9"]))


def snapshot():
    return (
        ChatGroup.objects.count(),
        ChatGroup.history.count(),
        Membership.objects.count(),
        Membership.history.count(),
    )


def post_and_check(client, url, data):
    before = snapshot()
    response = client.post(url, data)
    assert response.status_code in (200, 302, 403, 404), response.status_code
    if response.status_code != 302:
        assert snapshot() == before, "a refused form saved something"
    return response


@FUZZ
@given(name=text, purpose=text, weekday=anything, at=anything, logo=st.binary(max_size=4096))
def test_it_survives_any_proposal(client, member, name, purpose, weekday, at, logo):
    client.force_login(member)
    data = {
        "name": name,
        "purpose": purpose,
        "cycle_weekday": weekday,
        "cycle_time": at,
        "logo": SimpleUploadedFile("logo.png", logo, content_type="image/png"),
    }
    post_and_check(client, reverse("groups:propose"), data)


@FUZZ
@given(name=text, purpose=text, weekday=anything, at=anything, remove=anything)
def test_it_survives_any_edit(client, admin_user, group, name, purpose, weekday, at, remove):
    client.force_login(admin_user)
    data = {"name": name, "purpose": purpose, "cycle_weekday": weekday, "cycle_time": at, "remove_logo": remove}
    post_and_check(client, reverse("groups:edit", args=[group.pk]), data)


@FUZZ
@given(reason=text, action=st.sampled_from(["approve", "suspend", "reinstate", "retire"]))
def test_it_survives_any_decision(client, dpo, group, reason, action):
    client.force_login(dpo)
    response = post_and_check(client, reverse("groups:transition", args=[group.pk, action]), {"reason": reason})
    if response.status_code == 302:  # put it back for the next example
        ChatGroup.objects.filter(pk=group.pk).update(status="approved")


@FUZZ
@given(user=anything, admin=anything, deputy=anything, q=text)
def test_it_survives_any_membership_input(client, admin_user, group, user, admin, deputy, q):
    ChatGroup.objects.filter(pk=group.pk).update(admin=admin_user, deputy=None)  # undo the last example
    client.force_login(admin_user)
    assert client.get(reverse("groups:member_add", args=[group.pk]), {"q": q}).status_code == 200
    assert client.get(reverse("groups:register"), {"q": q, "status": q, "page": q}).status_code == 200
    post_and_check(client, reverse("groups:member_add", args=[group.pk]), {"user": user})
    post_and_check(client, reverse("groups:roles", args=[group.pk]), {"admin-user": admin})
    post_and_check(client, reverse("groups:roles", args=[group.pk]), {"deputy-user": deputy})
