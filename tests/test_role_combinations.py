"""One person, several roles (R12): each role brings its duties, and nothing more.

A person's duties as a member never depend on their other roles: an auditor or the DPO who
is in a group attests their own clear-downs, from home and from the emailed link, like any
member. "Auditors change nothing" is about other people's records, other groups and the
register: an auditor who runs a group prompts, excuses and manages its members, and still
cannot touch any other group or anyone else's clear-down.

Each row of the matrix is one person, one action on one target, and whether it must take
effect. The effect is read back from the database, so a refusal that still changed
something, or a 302 that changed nothing, both fail.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.urls import reverse

from attestations import services as clear_downs
from attestations.links import obligation_link_token
from attestations.models import Cycle, ExportLog, Hold, Obligation
from groups.models import ChatGroup, Membership
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory, auditor_user, dpo_user

pytestmark = pytest.mark.django_db

# Tuesday 10 November 2026, 09:00 UK (GMT): memberships start a month before.
BASE = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)
# Each group closes its week on Friday 13 November at 17:00; five minutes later.
CLOSED = dt.datetime(2026, 11, 13, 17, 5, tzinfo=dt.UTC)
CLEARED_ON = "2026-11-13"


@dataclass
class World:
    people: dict[str, object]
    groups: dict[str, ChatGroup]
    proposal: ChatGroup
    newcomer: object

    def obligation(self, who: str, group: str) -> Obligation:
        return Obligation.objects.get(user=self.people[who], cycle__group=self.groups[group])

    def cycle(self, group: str) -> Cycle:
        return Cycle.objects.get(group=self.groups[group])


@pytest.fixture
def world(time_machine) -> World:
    """Four approved groups, each with a closed week, and the people of the combinations:

    - A, run by a plain admin: the auditor-member, the DPO-member, the deputy-member and a member;
    - B, run by the DPO-admin; C, run by the auditor-admin; D, deputy-member is its deputy.
    Everyone also owes for their own group, so `member` owes in every group.
    """
    time_machine.move_to(BASE, tick=False)
    people = {
        "member": UserFactory(username="member"),
        "admin": UserFactory(username="plainadmin"),
        "auditor_member": auditor_user(username="auditormember"),
        "dpo_member": dpo_user(username="dpomember"),
        "dpo_admin": dpo_user(username="dpoadmin"),
        "auditor_admin": auditor_user(username="auditoradmin"),
        "deputy_member": UserFactory(username="deputymember"),
        "d_admin": UserFactory(username="dadmin"),
    }
    groups = {
        "A": ChatGroupFactory(name="Group A", admin=people["admin"]),
        "B": ChatGroupFactory(name="Group B", admin=people["dpo_admin"]),
        "C": ChatGroupFactory(name="Group C", admin=people["auditor_admin"]),
        "D": ChatGroupFactory(name="Group D", admin=people["d_admin"], deputy=people["deputy_member"]),
    }
    # Each admin is already a member of their group (the factory adds them).
    in_group = {
        "A": ["auditor_member", "dpo_member", "deputy_member", "member"],
        "B": ["member"],
        "C": ["member"],
        "D": ["deputy_member", "member"],
    }
    for key, names in in_group.items():
        for name in names:
            MembershipFactory(group=groups[key], user=people[name])
    proposal = ChatGroupFactory(name="Proposed group", status=ChatGroup.Status.PROPOSED)
    newcomer = UserFactory(username="newcomer")
    time_machine.move_to(CLOSED, tick=False)
    closed = clear_downs.cycle_close_due(now=CLOSED)
    assert len(closed.cycles) == 4
    return World(people=people, groups=groups, proposal=proposal, newcomer=newcomer)


# --- Actions: each does one thing through the pages and says whether it took effect ----------


def _done(obligation: Obligation) -> bool:
    obligation.refresh_from_db()
    return obligation.status in Obligation.DONE


def attest_home(client, w: World, who: str, target: str):
    """`target` is "own:G" (the person's own clear-down in G) or "member:G" (someone else's)."""
    owner, group = target.split(":")
    obligation = w.obligation(who if owner == "own" else owner, group)
    response = client.post(
        reverse("home"), {"obligations": [obligation.pk], "cleared_on": CLEARED_ON, "confirmed_saved": "on"}
    )
    return response, _done(obligation)


def attest_link(client, w: World, who: str, target: str):
    owner, group = target.split(":")
    obligation = w.obligation(who if owner == "own" else owner, group)
    url = reverse("attestations:link", args=[obligation_link_token(obligation)])
    assert client.get(url).status_code == (200 if owner == "own" else 403)
    response = client.post(url, {"confirmed_cleared": "on", "cleared_on": CLEARED_ON, "confirmed_saved": "on"})
    return response, _done(obligation)


def prompt(client, w: World, who: str, group: str):
    cycle = w.cycle(group)
    response = client.post(reverse("attestations:prompt", args=[cycle.pk]))
    cycle.refresh_from_db()
    return response, cycle.prompted_at is not None


def excuse(client, w: World, who: str, target: str):
    """Excuse "member:G" (someone else) or "own:G" (oneself, which nobody may)."""
    owner, group = target.split(":")
    obligation = w.obligation(who if owner == "own" else owner, group)
    response = client.post(reverse("attestations:excuse", args=[obligation.pk]), {"reason": "Annual leave"})
    obligation.refresh_from_db()
    return response, obligation.status == Obligation.Status.EXCUSED


def add_member(client, w: World, who: str, group: str):
    chat_group = w.groups[group]
    response = client.post(reverse("groups:member_add", args=[chat_group.pk]), {"user": w.newcomer.pk})
    return response, Membership.objects.active().filter(group=chat_group, user=w.newcomer).exists()


def remove_member(client, w: World, who: str, group: str):
    membership = Membership.objects.get(group=w.groups[group], user=w.people["member"])
    response = client.post(reverse("groups:member_remove", args=[membership.group_id, membership.pk]))
    membership.refresh_from_db()
    return response, membership.left_at is not None


def hand_over(client, w: World, who: str, group: str):
    """Make `member` the admin of the group: the admin's (or the DPO's) call, never the deputy's."""
    chat_group = w.groups[group]
    response = client.post(reverse("groups:roles", args=[chat_group.pk]), {"admin-user": w.people["member"].pk})
    chat_group.refresh_from_db()
    return response, chat_group.admin_id == w.people["member"].pk


def approve(client, w: World, who: str, target: str):
    response = client.post(
        reverse("groups:transition", args=[w.proposal.pk, "approve"]), {"reason": "A work need, reviewed"}
    )
    w.proposal.refresh_from_db()
    return response, w.proposal.status == ChatGroup.Status.APPROVED


def hold(client, w: World, who: str, group: str):
    chat_group = w.groups[group]
    response = client.post(
        reverse("attestations:hold_place", args=[chat_group.pk]), {"reference": "FOI-77", "reason": "FOI request"}
    )
    return response, Hold.objects.filter(group=chat_group, lifted_at__isnull=True).exists()


def propose(client, w: World, who: str, target: str):
    response = client.post(
        reverse("groups:propose"),
        {"name": "New work group", "purpose": "Night shift handover", "cycle_weekday": 4, "cycle_time": "17:00"},
    )
    return response, ChatGroup.objects.filter(name="New work group").exists()


def read_audit(client, w: World, who: str, target: str):
    response = client.get(reverse("audit:history"))
    return response, response.status_code == 200


def export(client, w: World, who: str, target: str):
    response = client.get(reverse("audit:export", args=["obligations", "csv"]))
    if response.status_code != 200:
        return response, False
    body = b"".join(response.streaming_content)
    log = ExportLog.objects.get(user=w.people[who])
    return response, bool(body) and bool(log.sha256)


ACTIONS = {
    f.__name__: f
    for f in (
        attest_home,
        attest_link,
        prompt,
        excuse,
        add_member,
        remove_member,
        hand_over,
        approve,
        hold,
        propose,
        read_audit,
        export,
    )
}

# (person, action, target, takes effect). Targets: a group key, "own:G" or "member:G".
MATRIX = [
    # Auditor who is a member of A: their own clear-down, both ways; audit reads; nothing else.
    ("auditor_member", "attest_home", "own:A", True),
    ("auditor_member", "attest_link", "own:A", True),
    ("auditor_member", "read_audit", "-", True),
    ("auditor_member", "export", "-", True),
    ("auditor_member", "attest_home", "member:A", False),
    ("auditor_member", "attest_link", "member:A", False),
    ("auditor_member", "prompt", "A", False),
    ("auditor_member", "excuse", "member:A", False),
    ("auditor_member", "add_member", "A", False),
    ("auditor_member", "remove_member", "A", False),
    ("auditor_member", "hold", "A", False),
    ("auditor_member", "approve", "-", False),
    ("auditor_member", "propose", "-", False),
    # DPO who is a member of A: their own clear-down, both ways; the DPO's duties; not others' records.
    ("dpo_member", "attest_home", "own:A", True),
    ("dpo_member", "attest_link", "own:A", True),
    ("dpo_member", "approve", "-", True),
    ("dpo_member", "hold", "A", True),
    ("dpo_member", "excuse", "member:A", True),
    ("dpo_member", "read_audit", "-", True),
    ("dpo_member", "attest_home", "member:A", False),
    ("dpo_member", "attest_link", "member:A", False),
    ("dpo_member", "excuse", "own:A", False),
    # DPO who runs B: attests their own, prompts, manages members, excuses; the DPO's duties.
    ("dpo_admin", "attest_home", "own:B", True),
    ("dpo_admin", "attest_link", "own:B", True),
    ("dpo_admin", "prompt", "B", True),
    ("dpo_admin", "excuse", "member:B", True),
    ("dpo_admin", "add_member", "B", True),
    ("dpo_admin", "remove_member", "B", True),
    ("dpo_admin", "approve", "-", True),
    ("dpo_admin", "hold", "B", True),
    ("dpo_admin", "attest_home", "member:B", False),
    ("dpo_admin", "attest_link", "member:B", False),
    ("dpo_admin", "excuse", "own:B", False),
    # Auditor who runs C: every duty of C's admin and the auditor's reads; nothing of any other group.
    ("auditor_admin", "attest_home", "own:C", True),
    ("auditor_admin", "attest_link", "own:C", True),
    ("auditor_admin", "prompt", "C", True),
    ("auditor_admin", "excuse", "member:C", True),
    ("auditor_admin", "add_member", "C", True),
    ("auditor_admin", "remove_member", "C", True),
    ("auditor_admin", "hand_over", "C", True),
    ("auditor_admin", "read_audit", "-", True),
    ("auditor_admin", "export", "-", True),
    ("auditor_admin", "attest_home", "member:C", False),
    ("auditor_admin", "attest_link", "member:C", False),
    ("auditor_admin", "excuse", "own:C", False),
    ("auditor_admin", "prompt", "A", False),
    ("auditor_admin", "excuse", "member:A", False),
    ("auditor_admin", "add_member", "A", False),
    ("auditor_admin", "remove_member", "A", False),
    ("auditor_admin", "hand_over", "A", False),
    ("auditor_admin", "hold", "C", False),
    ("auditor_admin", "approve", "-", False),
    ("auditor_admin", "propose", "-", False),
    # Deputy of D and member of A: runs D (but does not hand it over); in A only a member.
    ("deputy_member", "attest_home", "own:A", True),
    ("deputy_member", "attest_link", "own:A", True),
    ("deputy_member", "attest_home", "own:D", True),
    ("deputy_member", "attest_link", "own:D", True),
    ("deputy_member", "prompt", "D", True),
    ("deputy_member", "excuse", "member:D", True),
    ("deputy_member", "add_member", "D", True),
    ("deputy_member", "remove_member", "D", True),
    ("deputy_member", "hand_over", "D", False),
    ("deputy_member", "prompt", "A", False),
    ("deputy_member", "excuse", "member:A", False),
    ("deputy_member", "add_member", "A", False),
    ("deputy_member", "remove_member", "A", False),
    ("deputy_member", "attest_home", "member:A", False),
    ("deputy_member", "attest_link", "member:D", False),
    ("deputy_member", "hold", "D", False),
    ("deputy_member", "approve", "-", False),
    ("deputy_member", "read_audit", "-", False),
    ("deputy_member", "export", "-", False),
]


@pytest.mark.parametrize(("who", "action", "target", "takes_effect"), MATRIX, ids=lambda v: str(v))
def test_it_gives_each_role_its_duties_and_nothing_more(client, world, who, action, target, takes_effect):
    client.force_login(world.people[who])
    response, acted = ACTIONS[action](client, world, who, target)
    assert acted is takes_effect, f"{who} {action} {target}: {response.status_code}"
    if takes_effect:
        assert response.status_code in (200, 302)
    else:
        # Refused: 403 or 404 for someone with no part in it; the form's own message (200)
        # where the person may use the page but not for that (a tick that is not theirs,
        # excusing oneself).
        assert response.status_code in (200, 403, 404), response.status_code


def test_an_auditors_own_clear_down_is_theirs_alone_even_with_both_links_open(client, world):
    """The auditor-member attests A from the link; the same POST on the member's link changes nothing."""
    auditor, member_obligation = world.people["auditor_member"], world.obligation("member", "A")
    client.force_login(auditor)
    own = world.obligation("auditor_member", "A")
    data = {"confirmed_cleared": "on", "cleared_on": CLEARED_ON, "confirmed_saved": "on"}
    response = client.post(reverse("attestations:link", args=[obligation_link_token(own)]), data)
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.status == Obligation.Status.ATTESTED and own.channel == Obligation.Channel.EMAIL
    assert own.history.first().history_user == auditor
    response = client.post(reverse("attestations:link", args=[obligation_link_token(member_obligation)]), data)
    assert response.status_code == 403
    member_obligation.refresh_from_db()
    assert member_obligation.status == Obligation.Status.PENDING


def test_the_propose_service_refuses_an_auditor_whatever_the_page(world):
    """The register is not an auditor's to add to, even an auditor who runs a group."""
    from django.core.exceptions import PermissionDenied

    from groups import services as register

    with pytest.raises(PermissionDenied):
        register.chatgroup_propose(name="Side project", purpose="Planning", by=world.people["auditor_admin"])
    assert not ChatGroup.objects.filter(name="Side project").exists()
