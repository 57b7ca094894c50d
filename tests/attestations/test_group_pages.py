"""The group page's cycle panel, the prompt, excuse and hold pages, for every role (R5, R7, R9)."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse

from attestations import services
from attestations.models import Cycle, Hold, Obligation
from groups.models import ChatGroup, Membership
from tests.attestations.conftest import DUE, PERIOD_END, PERIOD_START, utc
from tests.factories import HoldFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "member", "outsider", "admin_user", "dpo", "auditor"]


def client_for(client, request, role):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    return client


def detail_url(group) -> str:
    return reverse("groups:detail", args=[group.pk])


# --- The group page ---------------------------------------------------------------------------


def test_the_admin_sees_who_has_attested_who_is_outstanding_and_who_is_excused(client, cycle, member, admin_user, dpo):
    third = MembershipFactory(group=cycle.group, joined_at=utc(2026, 10, 1)).user
    # The third member joined after the cycle closed: give them an obligation directly.
    extra = Obligation.objects.create(cycle=cycle, user=third, due_at=cycle.due_at)
    services.obligation_attest(
        obligations=[cycle.obligations.get(user=member)],
        user=member,
        cleared_on=dt.date(2026, 11, 13),
        confirmed_cleared=True,
        confirmed_saved=True,
    )
    services.obligation_excuse(obligation=extra, by=dpo, reason="Maternity leave")
    client.force_login(admin_user)
    html = " ".join(client.get(detail_url(cycle.group)).content.decode().split())
    assert "Done</span> 1" in html and "Outstanding</span> 1" in html and "Excused</span> 1" in html
    assert "Maternity leave" in html
    assert "Issue prompt" in html and "Due by Sat 14 Nov, 17:00" in html


def test_a_member_sees_their_own_status_but_not_the_others(client, cycle, member):
    client.force_login(member)
    html = client.get(detail_url(cycle.group)).content.decode()
    assert "Your clear-down:" in html and "Confirm it in My clear-downs" in html
    assert "Issue prompt" not in html and "Outstanding (" not in html


def test_the_auditor_sees_the_lists_but_no_buttons(client, cycle, auditor):
    client.force_login(auditor)
    html = client.get(detail_url(cycle.group)).content.decode()
    assert "Outstanding (2)" in html
    assert "Issue prompt" not in html and "/excuse/" not in html and "Place a hold" not in html


def test_after_prompting_the_admin_gets_the_message_to_paste_with_a_copy_button(
    client, cycle, admin_user, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("attestations:prompt", args=[cycle.pk]), follow=True)
    html = response.content.decode()
    assert "Prompt recorded. 2 members will get an email" in html
    assert '<textarea class="form-control mb-2 prompt-text" id="prompt-text" rows="6" readonly>' in html
    assert "Weekly clear-down of “Urgent Ops”" in html
    assert 'data-copy-target="prompt-text" hidden' in html  # shown by copy.js; without JS the text is there
    assert len(mail.outbox) == 2
    cycle.refresh_from_db()
    assert cycle.prompted_by == admin_user


def test_under_a_hold_the_page_shows_the_banner_and_disables_the_prompt(client, cycle, admin_user, dpo):
    services.hold_place(group=cycle.group, by=dpo, reference="FOI-2026-0042", reason="Request")
    client.force_login(admin_user)
    html = client.get(detail_url(cycle.group)).content.decode()
    assert "Do NOT clear this chat: information is held for FOI-2026-0042" in html
    assert 'disabled aria-disabled="true">Issue prompt' in html
    response = client.post(reverse("attestations:prompt", args=[cycle.pk]), follow=True)
    assert "on hold" in response.content.decode()
    assert Cycle.objects.get(pk=cycle.pk).prompted_at is None


def test_after_a_hold_is_lifted_the_page_says_the_week_was_held_and_what_comes_next(
    client, cycle, admin_user, member, dpo, at
):
    # Placed in the grace period and lifted the same day: the week stays held (nothing owed).
    hold = services.hold_place(
        group=cycle.group, by=dpo, reference="FOI-2026-0042", reason="Request", now=utc(2026, 11, 14, 9)
    )
    services.hold_lift(hold=hold, by=dpo, reason="Answered", now=utc(2026, 11, 14, 12))
    at(utc(2026, 11, 14, 13))
    client.force_login(admin_user)
    html = " ".join(client.get(detail_url(cycle.group)).content.decode().split())
    assert (
        "This week was held under FOI-2026-0042 (lifted on 14 November 2026); nothing is owed for it. "
        "The next clear-down is for the period ending Fri 20 Nov 2026, 17:00." in html
    )
    assert "No prompt for this week: it was held" in html
    assert "Do NOT clear" not in html and "while the group is on hold" not in html
    assert "Issue prompt" not in html and "disabled" not in html
    assert "On hold" not in html and "Held, nothing owed (2)" in html
    assert 'status-held">Nothing owed</span>' in html
    client.force_login(member)
    html = " ".join(client.get(detail_url(cycle.group)).content.decode().split())
    assert "Your clear-down: <span" in html and 'status-held">Nothing owed</span>' in html
    assert "On hold" not in html and "This week was held under FOI-2026-0042" in html


def test_while_the_hold_stands_the_page_still_says_on_hold(client, cycle, member, dpo):
    services.hold_place(group=cycle.group, by=dpo, reference="FOI-2026-0042", reason="Request")
    client.force_login(member)
    html = client.get(detail_url(cycle.group)).content.decode()
    assert "On hold" in html and "This week was held under" not in html


def earlier_week(group, at):
    """Close 30 Oct – 6 Nov and 6–13 Nov; `sick` (a member since October) owes both."""
    sick = UserFactory(username="sick", first_name="Sam", last_name="Sick")
    MembershipFactory(group=group, user=sick, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=at(PERIOD_START + dt.timedelta(minutes=1)))
    services.cycle_close_due(now=at(PERIOD_END + dt.timedelta(minutes=1)))
    return Obligation.objects.get(user=sick, cycle__period_end=PERIOD_START)


@pytest.mark.parametrize("role", ["admin_user", "dpo"])
def test_those_who_run_the_group_see_earlier_weeks_outstanding_and_excuse_them(client, request, group, at, role):
    first = earlier_week(group, at)
    at(DUE + dt.timedelta(days=1))
    client.force_login(request.getfixturevalue(role))
    html = " ".join(client.get(detail_url(group)).content.decode().split())
    assert "Earlier weeks still outstanding" in html
    assert "Fri 30 Oct to Fri 6 Nov 2026" in html and "(deadline was Sun 8 Nov, 17:00)" in html
    excuse = reverse("attestations:excuse", args=[first.pk])
    assert f'href="{excuse}">Excuse<span class="visually-hidden"> Sam Sick for the week ending 6 Nov</span>' in html
    response = client.post(excuse, {"reason": "Sick leave, two weeks"}, follow=True)
    assert "Sam Sick is excused" in response.content.decode()
    assert Obligation.objects.get(pk=first.pk).status == "excused"
    html = client.get(detail_url(group)).content.decode()
    assert excuse not in html and "Sam Sick for the week ending" not in html


def test_the_auditor_sees_earlier_weeks_outstanding_without_excuse_links(client, group, auditor, at):
    first = earlier_week(group, at)
    client.force_login(auditor)
    html = client.get(detail_url(group)).content.decode()
    assert "Earlier weeks still outstanding" in html and "Sam Sick" in html
    assert reverse("attestations:excuse", args=[first.pk]) not in html


@pytest.mark.parametrize("role", ["member", "outsider"])
def test_members_and_outsiders_do_not_see_earlier_weeks_outstanding(client, request, group, at, role):
    earlier_week(group, at)
    client.force_login(request.getfixturevalue(role))
    html = client.get(detail_url(group)).content.decode()
    assert "Earlier weeks still outstanding" not in html and "Sam Sick for the week" not in html


def test_earlier_weeks_list_at_most_fifty_and_says_so(client, group, dpo, at):
    for _ in range(26):
        MembershipFactory(group=group, joined_at=utc(2026, 10, 1))
    services.cycle_close_due(now=at(PERIOD_START - dt.timedelta(days=7, minutes=-1)))
    earlier_week(group, at)  # two earlier weeks of 29 members each
    client.force_login(dpo)
    html = client.get(detail_url(group)).content.decode()
    assert html.count("for the week ending") == 50
    assert "Only the latest 50 are listed" in html


def test_a_group_without_cycles_says_when_the_period_ends(client, group, admin_user):
    client.force_login(admin_user)
    html = client.get(detail_url(group)).content.decode()
    assert "No clear-down yet" in html and "The current period ends Fri 13 Nov 2026, 17:00" in html


def test_the_group_page_query_count_stays_flat_from_3_to_30_members(client, admin_user, at, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def grow(group, n):
        for _ in range(n):
            MembershipFactory(group=group, joined_at=utc(2026, 10, 1))

    at(PERIOD_END + dt.timedelta(minutes=5))
    small_group = ChatGroup.objects.get(pk=MembershipFactory(joined_at=utc(2026, 10, 1)).group_id)
    ChatGroup.objects.filter(pk=small_group.pk).update(admin=admin_user)
    grow(small_group, 2)
    big_group = ChatGroup.objects.get(pk=MembershipFactory(joined_at=utc(2026, 10, 1)).group_id)
    ChatGroup.objects.filter(pk=big_group.pk).update(admin=admin_user)
    grow(big_group, 29)
    # An earlier week too, with everyone still outstanding: listed under "Earlier weeks".
    services.cycle_close_due(now=PERIOD_START + dt.timedelta(minutes=1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=1))
    for chat in (small_group, big_group):
        outstanding = list(Obligation.objects.filter(cycle__group=chat).exclude(user=admin_user)[:2])
        services.obligation_excuse(obligation=outstanding[0], by=admin_user, reason="Leave")
    client.force_login(admin_user)
    client.get(detail_url(small_group))
    with CaptureQueriesContext(connection) as small:
        client.get(detail_url(small_group))
    with django_assert_num_queries(len(small)):
        html = client.get(detail_url(big_group)).content.decode()
    outstanding = Obligation.objects.filter(
        cycle__group=big_group, cycle__period_end=PERIOD_END, status="pending"
    ).count()
    assert outstanding > 25 and f"Outstanding ({outstanding})" in html
    assert html.count("for the week ending 6 Nov") == 30


# --- The hold banner on every page of the group ------------------------------------------------

BANNER = "Do NOT clear this chat: information is held for FOI-2026-0042"


def group_pages(cycle, member, hold) -> dict[str, str]:
    group = cycle.group
    membership = Membership.objects.get(group=group, user=member, left_at__isnull=True)
    return {
        "detail": reverse("groups:detail", args=[group.pk]),
        "edit": reverse("groups:edit", args=[group.pk]),
        "history": reverse("groups:history", args=[group.pk]),
        "member_add": reverse("groups:member_add", args=[group.pk]),
        "member_remove": reverse("groups:member_remove", args=[group.pk, membership.pk]),
        "roles": reverse("groups:roles", args=[group.pk]),
        "transition": reverse("groups:transition", args=[group.pk, "suspend"]),
        "excuse": reverse("attestations:excuse", args=[cycle.obligations.get(user=member).pk]),
        "hold_place": reverse("attestations:hold_place", args=[group.pk]),
        "hold_lift": reverse("attestations:hold_lift", args=[hold.pk]),
        "dashboard": reverse("dashboard:group", args=[group.pk]),
    }


PAGES = [
    "detail",
    "edit",
    "history",
    "member_add",
    "member_remove",
    "roles",
    "transition",
    "excuse",
    "hold_place",
    "hold_lift",
    "dashboard",
]


@pytest.mark.parametrize("which", PAGES)
def test_every_page_of_a_held_group_shows_the_banner(client, cycle, member, dpo, which):
    hold = services.hold_place(group=cycle.group, by=dpo, reference="FOI-2026-0042", reason="Request")
    client.force_login(dpo)
    response = client.get(group_pages(cycle, member, hold)[which])
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count(BANNER) == 1 and '</h2>\n  <p class="mb-0">The information in this group must be kept' in html


@pytest.mark.parametrize("which", ["detail", "edit", "history", "member_add"])
def test_the_admin_sees_the_banner_on_the_group_pages_too(client, cycle, member, admin_user, dpo, which):
    hold = services.hold_place(group=cycle.group, by=dpo, reference="FOI-2026-0042", reason="Request")
    client.force_login(admin_user)
    assert BANNER in client.get(group_pages(cycle, member, hold)[which]).content.decode()


@pytest.mark.parametrize("which", PAGES)
def test_no_page_shows_the_banner_once_the_hold_is_lifted(client, cycle, member, dpo, which):
    hold = services.hold_place(group=cycle.group, by=dpo, reference="FOI-2026-0042", reason="Request")
    services.hold_lift(hold=hold, by=dpo, reason="Answered")
    client.force_login(dpo)
    response = client.get(group_pages(cycle, member, hold)[which])
    assert response.status_code == 200 and "Do NOT clear" not in response.content.decode()


# --- Access to every page, for every role ------------------------------------------------------


def urls(cycle, obligation, hold):
    return {
        "prompt": reverse("attestations:prompt", args=[cycle.pk]),
        "excuse": reverse("attestations:excuse", args=[obligation.pk]),
        "hold_place": reverse("attestations:hold_place", args=[cycle.group_id]),
        "hold_lift": reverse("attestations:hold_lift", args=[hold.pk]),
    }


# Expected GET status per page and role. The prompt is a POST-only action (405 on GET).
GET_MATRIX = {
    #              anonymous member outsider admin dpo auditor
    "prompt": (302, 405, 405, 405, 405, 405),
    "excuse": (302, 403, 403, 200, 200, 403),
    "hold_place": (302, 403, 403, 403, 200, 403),
    "hold_lift": (302, 403, 403, 403, 200, 403),
}


@pytest.fixture
def lifted_hold(cycle, dpo):
    """A past hold on the group, placed and lifted before this cycle closed."""
    return HoldFactory(
        group=cycle.group,
        placed_by=dpo,
        placed_at=utc(2026, 11, 1),
        lifted_by=dpo,
        lifted_at=utc(2026, 11, 2),
        lift_reason="Done",
    )


@pytest.mark.parametrize("page", GET_MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_it_gives_each_role_only_its_pages(client, request, cycle, member, lifted_hold, page, role):
    obligation = cycle.obligations.get(user=member)
    response = client_for(client, request, role).get(urls(cycle, obligation, lifted_hold)[page])
    expected = GET_MATRIX[page][ROLES.index(role)]
    assert response.status_code == expected, (page, role)
    if expected == 302:
        assert response["Location"].startswith(reverse("login"))


POST_MATRIX = {
    #              anonymous member outsider admin dpo auditor
    "prompt": (302, 403, 403, 302, 302, 403),
    "excuse": (302, 403, 403, 302, 302, 403),
    "hold_place": (302, 403, 403, 403, 302, 403),
}


@pytest.mark.parametrize("page", POST_MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_only_the_right_roles_can_act(
    client, request, cycle, member, lifted_hold, page, role, django_capture_on_commit_callbacks
):
    obligation = cycle.obligations.get(user=member)
    url = urls(cycle, obligation, lifted_hold)[page]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(client, request, role).post(url, {"reason": "Annual leave", "reference": "FOI-9"})
    expected = POST_MATRIX[page][ROLES.index(role)]
    assert response.status_code == expected, (page, role)
    acted = {
        "prompt": Cycle.objects.filter(prompted_at__isnull=False).exists(),
        "excuse": Obligation.objects.filter(status="excused").exists(),
        "hold_place": Hold.objects.filter(lifted_at__isnull=True).exists(),
    }[page]
    assert acted is (role in ("admin_user", "dpo") and expected == 302)


@pytest.mark.parametrize("page", ["prompt", "excuse", "hold_place", "hold_lift"])
def test_auditors_get_403_on_every_post(client, auditor, cycle, member, dpo, page):
    hold = services.hold_place(group=cycle.group, by=dpo, reference="FOI-1", reason="Request")
    client.force_login(auditor)
    before = (Cycle.history.count(), Obligation.history.count(), Hold.history.count())
    response = client.post(
        urls(cycle, cycle.obligations.get(user=member), hold)[page], {"reason": "x", "reference": "y"}
    )
    assert response.status_code == 403
    assert (Cycle.history.count(), Obligation.history.count(), Hold.history.count()) == before


def test_a_proposals_cycle_is_hidden_from_outsiders(client, outsider, cycle):
    ChatGroup.objects.filter(pk=cycle.group_id).update(status=ChatGroup.Status.PROPOSED)
    client.force_login(outsider)
    assert client.post(reverse("attestations:prompt", args=[cycle.pk])).status_code == 404


# --- Excuse and hold pages ---------------------------------------------------------------------


def test_the_excuse_page_needs_a_reason(client, obligation, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("attestations:excuse", args=[obligation.pk]), {"reason": "  "})
    assert response.status_code == 200 and "There is a problem" in response.content.decode()
    assert Obligation.objects.get(pk=obligation.pk).status == "pending"


def test_the_admin_cannot_excuse_themselves_through_the_page(client, cycle, admin_user):
    mine = cycle.obligations.get(user=admin_user)
    client.force_login(admin_user)
    response = client.post(reverse("attestations:excuse", args=[mine.pk]), {"reason": "Leave"})
    assert "cannot excuse yourself" in response.content.decode()
    assert Obligation.objects.get(pk=mine.pk).status == "pending"


def test_the_dpo_places_and_lifts_a_hold_through_the_pages(client, cycle, dpo, member):
    client.force_login(dpo)
    response = client.post(
        reverse("attestations:hold_place", args=[cycle.group_id]),
        {"reference": "FOI-2026-0099", "reason": "Request received"},
        follow=True,
    )
    assert "is on hold (FOI-2026-0099)" in response.content.decode()
    assert set(cycle.obligations.values_list("status", flat=True)) == {"held"}
    hold = Hold.objects.get()
    assert "already on hold" in client.get(reverse("attestations:hold_place", args=[cycle.group_id])).content.decode()
    response = client.post(reverse("attestations:hold_lift", args=[hold.pk]), {"reason": "Answered"}, follow=True)
    assert "is lifted" in response.content.decode()
    assert not Hold.objects.get().is_active


def test_the_hold_page_refuses_a_missing_reference(client, group, dpo):
    client.force_login(dpo)
    response = client.post(reverse("attestations:hold_place", args=[group.pk]), {"reference": "", "reason": "x"})
    assert response.status_code == 200 and "There is a problem" in response.content.decode()
    assert not Hold.objects.exists()
