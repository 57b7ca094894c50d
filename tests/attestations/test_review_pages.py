"""The pages of a group's review (R16) and of disappearing messages (R17), without a browser:
the admin's home notice, the one-submit answers, the DPO's decision and interval, the mode."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from groups import services as group_services
from groups.models import ChatGroup, GroupReview, Membership
from tests.attestations.conftest import BASE

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(group):
    return group_services.review_schedule(group=group, after=BASE - dt.timedelta(days=200), by=None)


def test_the_admin_sees_an_overdue_review_on_home_and_a_member_does_not(client, review, admin_user, member):
    client.force_login(admin_user)
    html = client.get(reverse("home")).content.decode()
    assert "Group reviews to answer" in html and "<strong>overdue</strong>" in html
    assert reverse("attestations:review_answer", args=[review.group_id]) in html
    client.force_login(member)
    assert "Group reviews to answer" not in client.get(reverse("home")).content.decode()


def test_one_submit_records_every_answer_and_removes_who_was_marked(client, review, group, admin_user, member):
    client.force_login(admin_user)
    url = reverse("attestations:review_answer", args=[group.pk])
    memberships = {m.user: m for m in Membership.objects.active().filter(group=group)}
    data = {
        "purpose": group.purpose,
        f"member_{memberships[admin_user].pk}": "keep",
        f"member_{memberships[member].pk}": "remove",
    }
    refused = client.post(url, data)  # no confirmations: nothing changes
    assert refused.status_code == 200 and "Confirm that the group is used for OFFICIAL" in refused.content.decode()
    assert Membership.objects.get(pk=memberships[member].pk).left_at is None
    data.update(purpose_confirmed="on", official_only="on", settings_confirmed="on")
    response = client.post(url, data)
    assert response.status_code == 302
    assert Membership.objects.get(pk=memberships[member].pk).left_at is not None
    assert GroupReview.objects.get(pk=review.pk).status == "submitted"


def test_the_dpo_sets_an_interval_and_a_bad_one_is_refused(client, review, group, dpo):
    client.force_login(dpo)
    url = reverse("attestations:review_interval", args=[group.pk])
    client.post(url, {"months": "3"})
    assert ChatGroup.objects.get(pk=group.pk).review_months == 3
    response = client.post(url, {"months": "99"}, follow=True)
    assert "less than or equal to 24" in response.content.decode()
    assert ChatGroup.objects.get(pk=group.pk).review_months == 3


def test_the_dpo_approves_disappearing_messages_from_the_group_page(client, group, dpo, admin_user):
    client.force_login(dpo)
    page = client.get(group.get_absolute_url()).content.decode()
    assert "Save the mode" in page
    client.post(
        reverse("attestations:clear_mode", args=[group.pk]), {"mode": "disappearing_7d", "timer_check": "review"}
    )
    group.refresh_from_db()
    assert group.uses_timer and group.timer_check == "review"
    client.force_login(admin_user)
    page = client.get(group.get_absolute_url()).content.decode()
    assert "The admin confirms the timer at each review." in page and "Save the mode" not in page
