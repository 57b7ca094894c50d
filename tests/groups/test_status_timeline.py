"""The group page shows its status history: from → to, when (UK time), by whom, why (R2, R11)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from groups import selectors, services
from groups.models import ChatGroup
from tests.factories import ChatGroupFactory, UserFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def story(time_machine, admin_user, dpo):
    """Proposed in May, approved in summer time, renamed, suspended in winter time."""
    time_machine.move_to(dt.datetime(2026, 5, 11, 9, 0, tzinfo=UTC), tick=False)
    group = services.chatgroup_propose(name="Night Shift", purpose="Handover notes", by=admin_user)
    time_machine.move_to(dt.datetime(2026, 7, 1, 12, 0, tzinfo=UTC), tick=False)
    services.chatgroup_transition(group=group, action="approve", by=dpo, reason="Meets the WhatsApp policy")
    time_machine.move_to(dt.datetime(2026, 8, 3, 10, 0, tzinfo=UTC), tick=False)
    services.membership_add(group=group, user=UserFactory(), by=admin_user)  # not a status change
    services.chatgroup_update(
        group=group, by=dpo, name="Night Shift Team", purpose="Handover notes", cycle_weekday=1, cycle_time=dt.time(9)
    )
    time_machine.move_to(dt.datetime(2026, 12, 1, 9, 30, tzinfo=UTC), tick=False)
    services.chatgroup_transition(group=group, action="suspend", by=dpo, reason="Team moved to Teams")
    return ChatGroup.objects.get(pk=group.pk)


def test_the_timeline_lists_each_status_change_once_oldest_first(story):
    steps, earlier = selectors.status_timeline(group=story)
    assert not earlier
    assert [(s["from"], s["to"], s["who"], s["reason"]) for s in steps] == [
        ("", "Proposed", "Grace Adeyemi", ""),
        ("Proposed", "Approved", "Dana Price", "Meets the WhatsApp policy"),
        ("Approved", "Suspended", "Dana Price", "Team moved to Teams"),
    ]


def test_every_member_sees_it_on_the_group_page_in_uk_time(client, story, member):
    client.force_login(member)  # not in the group, not its admin: the register is for all staff
    body = client.get(reverse("groups:detail", args=[story.pk])).content.decode()
    section = body[body.index('id="timeline-heading"') :]
    assert "Status history" in body
    # 12:00 UTC on 1 July is 13:00 British Summer Time; 09:30 UTC on 1 December is 09:30 GMT.
    assert "Wed 1 Jul 2026, 13:00</time> (UK time) by Dana Price" in section
    assert "Tue 1 Dec 2026, 09:30</time> (UK time) by Dana Price" in section
    assert "Reason: Meets the WhatsApp policy" in section and "Reason: Team moved to Teams" in section
    assert section.index("Meets the WhatsApp policy") < section.index("Team moved to Teams")


def test_a_long_story_shows_its_latest_changes(dpo):
    group = ChatGroupFactory()
    for n in range(5):
        services.chatgroup_transition(group=group, action="suspend", by=dpo, reason=f"Pause {n}")
        services.chatgroup_transition(group=group, action="reinstate", by=dpo, reason=f"Back {n}")
    steps, earlier = selectors.status_timeline(group=group, limit=4)
    assert earlier
    assert [s["reason"] for s in steps] == ["Pause 3", "Back 3", "Pause 4", "Back 4"]


def test_it_costs_one_query_however_long_the_history(client, dpo, member):
    counts = []
    for changes in (1, 12):
        group = ChatGroupFactory(name=f"Group {changes}")
        for n in range(changes):
            services.chatgroup_transition(group=group, action="suspend", by=dpo, reason=f"Pause {n}")
            services.chatgroup_transition(group=group, action="reinstate", by=dpo, reason=f"Back {n}")
        with CaptureQueriesContext(connection) as queries:
            selectors.status_timeline(group=group)
        assert len(queries) == 1
        client.force_login(member)
        client.get(reverse("groups:detail", args=[group.pk]))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("groups:detail", args=[group.pk])).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
