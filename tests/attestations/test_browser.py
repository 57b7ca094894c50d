"""Clear-downs in a real browser: the member, the group admin and the DPO (R5–R9).

The journeys run at one size; every page they visit is scanned by axe-core at both sizes
in `test_browser_a11y.py`, and each is done with the keyboard alone in `test_browser_keyboard.py`.
"""

import datetime as dt
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from attestations import links
from attestations.models import Hold, Obligation
from groups import services as group_services
from groups.models import ChatGroup
from tests.attestations.browser import DECLARATION, NO_SIDEWAYS_SCROLL, PHONE, clock, close_the_week  # noqa: F401
from tests.attestations.conftest import PERIOD_END, PERIOD_START, utc
from tests.conftest import small_png
from tests.factories import PASSWORD, ChatGroupFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# --- The member -------------------------------------------------------------------------


def test_a_member_on_a_phone_attests_two_groups_at_once(live_server, page, login_page, group, member):
    other = ChatGroupFactory(name="Communications On-Call")
    MembershipFactory(group=other, user=member, joined_at=utc(2026, 10, 1))
    close_the_week()

    page.set_viewport_size(PHONE)
    login_page(member)
    expect(page.get_by_role("heading", name="My clear-downs")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    expect(page.get_by_role("link", name=re.compile("How to clear a WhatsApp chat"))).to_be_visible()

    expect(page.get_by_text(DECLARATION)).to_be_visible()
    expect(page.get_by_label("Date you cleared the chat", exact=False)).to_have_value("2026-11-13")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.get_by_role("button", name="Confirm all 2 clear-downs").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Communications On-Call, 6–13 Nov; Urgent Ops, 6–13 Nov: recorded."
    )
    expect(page.get_by_text("Nothing to do")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert set(Obligation.objects.filter(user=member).values_list("status", "channel")) == {("attested", "web")}


def test_with_sign_in_required_a_member_on_a_phone_opens_the_emailed_link_signs_in_and_confirms(
    live_server, page, settings, assert_accessible, group, member
):
    [cycle] = close_the_week()
    obligation = cycle.obligations.get(user=member)
    settings.SITE_URL = live_server.url
    settings.ATTEST_LINK_SIGN_IN_REQUIRED = True
    link = links.obligation_link_url(obligation)  # as the prompt and reminder emails build it

    page.set_viewport_size(PHONE)
    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "next=" in page.url
    page.get_by_label("Username").fill(member.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Clear-down of Urgent Ops")).to_be_visible()
    expect(page).to_have_url(link)
    expect(page.get_by_text("confirm by Sun 15 Nov, 17:00")).to_be_visible()
    assert_accessible(page, "link confirm on a phone")
    expect(page.get_by_label("Date you cleared the chat")).to_have_value("2026-11-13")
    page.get_by_role("button", name="Confirm my clear-down").click()

    expect(page.get_by_role("heading", name="Clear-down recorded")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Urgent Ops, 6–13 Nov: recorded")
    expect(page.locator(".receipt")).to_contain_text("by email link")
    page.get_by_role("link", name="Go to My clear-downs").click()
    expect(page.get_by_text("Nothing to do")).to_be_visible()
    past = page.locator(".past-list li", has_text="Urgent Ops")
    expect(past).to_contain_text("Done")
    expect(past).to_contain_text("by email link")
    assert_accessible(page, "home after confirming on a phone")

    page.goto(link)  # the link again: already done, nothing more to do
    expect(page.get_by_role("status")).to_contain_text("Urgent Ops, 6–13 Nov: recorded")
    obligation.refresh_from_db()
    assert (obligation.status, obligation.channel) == ("attested", "email")


def test_long_names_and_references_without_spaces_wrap_on_a_phone(live_server, page, login_page, member, dpo):
    # Names and references are typed by people: one with no space must not widen the page.
    long_name = "Operation" + "Nightingale" * 8
    held_name = "Custody" + "Handover" * 11
    reference = "FOI/2026/" + "0123456789" * 9
    for name in (long_name, held_name):
        MembershipFactory(group=ChatGroupFactory(name=name), user=member, joined_at=utc(2026, 10, 1))
    close_the_week()
    held = ChatGroup.objects.get(name=held_name)
    Hold.objects.create(group=held, reference=reference, reason="FOI request", placed_by=dpo, placed_at=PERIOD_END)
    obligation = Obligation.objects.get(user=member, cycle__group__name=long_name)

    page.set_viewport_size(PHONE)
    login_page(member)
    expect(
        page.get_by_role("heading", name=f"Do NOT clear this chat: information is held for {reference}")
    ).to_be_visible()
    # The heading is there before the stylesheets have loaded: measure the page once it has.
    page.wait_for_load_state("load")
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "home"
    page.goto(live_server.url + reverse("attestations:link", args=[links.obligation_link_token(obligation)]))
    expect(page.get_by_role("heading", name=f"Clear-down of {long_name}")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "link confirm"
    for group in (obligation.cycle.group, held):
        page.goto(live_server.url + group.get_absolute_url())
        expect(page.get_by_role("heading", name=group.name, level=1)).to_be_visible()
        assert page.evaluate(NO_SIDEWAYS_SCROLL), group.name


# --- The group admin --------------------------------------------------------------------


def add_member(page, name: str) -> None:
    page.get_by_role("link", name="Add members").click()
    page.get_by_label("Find a colleague").fill(name.split()[0])
    page.get_by_role("button", name="Search staff").click()
    page.get_by_label(name).check()
    page.get_by_role("button", name=re.compile(r"^Add to ")).click()
    expect(page.get_by_role("status")).to_contain_text(f"(1): {name}.")


def test_the_admin_proposes_a_group_with_a_logo_runs_its_members_prompts_and_excuses(
    live_server, page, login_page, time_machine, tmp_path, admin_user, dpo
):
    for first, last in (("Pat", "Jones"), ("Sam", "Okafor"), ("Rita", "Leaving")):
        UserFactory(first_name=first, last_name=last, username=first.lower())
    time_machine.move_to(PERIOD_END - dt.timedelta(hours=1), tick=True)  # proposed and joined before the week ends
    logo = tmp_path / "logo.png"
    logo.write_bytes(small_png())

    login_page(admin_user)
    page.get_by_role("link", name="Register of groups").click()
    page.get_by_role("link", name="Propose a group").click()
    page.get_by_label("Name").fill("Night Shift")
    page.get_by_label("Purpose").fill("Urgent coordination of the overnight duty team.")
    page.get_by_label("Logo").set_input_files(str(logo))
    page.get_by_role("button", name="Propose group").click()
    expect(page.get_by_role("status")).to_contain_text("“Night Shift” has been proposed")
    proposed = ChatGroup.objects.get(name="Night Shift")
    logo_img = page.get_by_role("img", name="Logo of Night Shift")
    expect(logo_img).to_have_attribute("src", re.compile(rf"^/groups/{proposed.pk}/logo\.png"))
    expect(logo_img).to_have_js_property("complete", True)
    assert logo_img.evaluate("img => img.naturalWidth") > 0

    for name in ("Pat Jones", "Sam Okafor", "Rita Leaving"):
        add_member(page, name)
    page.get_by_role("link", name="Remove Rita Leaving").click()
    page.get_by_role("button", name="Remove from group").click()
    expect(page.get_by_role("status")).to_contain_text("Rita Leaving has been removed from Night Shift")
    expect(page.get_by_role("heading", name="Members (3)")).to_be_visible()

    # The DPO approves it (the DPO's own journey is in tests/browser/), as if before this week began.
    group_services.chatgroup_transition(group=proposed, action="approve", by=dpo, reason="Meets the policy")
    ChatGroup.objects.filter(pk=proposed.pk).update(approved_at=PERIOD_START - dt.timedelta(days=1))
    time_machine.move_to(PERIOD_END + dt.timedelta(minutes=5), tick=True)
    close_the_week()

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_role("heading", name="Outstanding (3)")).to_be_visible()
    page.get_by_role("button", name="Issue prompt").click()
    expect(page.get_by_role("status").first).to_contain_text("Prompt recorded. 3 members will get an email")
    message = page.get_by_label("Message to paste into the WhatsApp group")
    expect(message).to_contain_text("Weekly clear-down of “Night Shift”")
    page.get_by_role("button", name="Copy message").click()  # hidden in the HTML, shown by copy.js
    expect(page.get_by_text("Copied. Paste it into the WhatsApp group.")).to_be_visible()
    assert "Night Shift" in page.evaluate("navigator.clipboard.readText()")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    page.get_by_role("link", name="Excuse Sam Okafor").click()
    expect(page.get_by_role("heading", name="Excuse Sam Okafor")).to_be_visible()
    page.get_by_label("Reason").fill("Annual leave all week")
    page.get_by_role("button", name="Excuse").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Sam Okafor is excused from this clear-down of Night Shift"
    )
    outstanding = page.get_by_role("heading", name="Outstanding (2)")
    expect(outstanding).to_be_visible()
    expect(page.locator(".cycle-panel")).to_contain_text("Excused (1)")
    expect(page.locator(".cycle-panel")).to_contain_text("Sam Okafor: Annual leave all week")
    owing = page.locator(".cycle-panel li", has=page.get_by_role("link", name=re.compile("^Excuse ")))
    expect(owing).to_have_count(1)  # Pat; the admin cannot excuse themself
    expect(owing).to_contain_text("Pat Jones")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


# --- The DPO: holds ---------------------------------------------------------------------


def test_the_dpo_places_and_lifts_a_hold_then_reads_the_dashboard_and_the_group(
    live_server, page, login_page, group, dpo
):
    close_the_week()
    login_page(dpo)
    page.get_by_role("link", name="Register of groups").click()
    page.get_by_role("link", name="Urgent Ops").click()
    page.get_by_role("link", name="Place a hold (FOI or legal)").click()
    expect(page.get_by_role("heading", name="Place a hold on “Urgent Ops”")).to_be_visible()
    page.get_by_role("button", name="Place the hold").click()
    expect(page.locator("#error-summary")).to_be_visible()  # reference and reason are required
    page.get_by_label("Reference").fill("FOI-2026-0101")
    page.get_by_label("Reason").fill("FOI request about the night rota")
    page.get_by_role("button", name="Place the hold").click()
    expect(page.get_by_role("status").first).to_contain_text("Urgent Ops is on hold (FOI-2026-0101)")
    expect(page.get_by_role("alert")).to_contain_text("Do NOT clear this chat")
    expect(page.locator(".cycle-panel")).to_contain_text("On hold")

    page.get_by_role("link", name="Lift the hold").click()
    expect(page.get_by_role("heading", name="Lift the hold FOI-2026-0101 on “Urgent Ops”")).to_be_visible()
    page.get_by_label("Reason").fill("Request answered")
    page.get_by_role("button", name="Lift the hold").click()
    expect(page.get_by_role("status").first).to_contain_text("The hold FOI-2026-0101 on Urgent Ops is lifted")
    expect(page.get_by_role("link", name="Place a hold (FOI or legal)")).to_be_visible()
    hold = Hold.objects.get()
    assert hold.lifted_by == dpo and hold.lifted_at is not None

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Clear-down dashboard")).to_be_visible()
    page.get_by_role("table", name="Groups").get_by_role("link", name="Urgent Ops").click()
    expect(page.get_by_role("heading", name="Urgent Ops", level=1)).to_be_visible()
    holds = page.get_by_role("table", name="FOI and legal holds on this group, newest first")
    expect(holds.get_by_role("row", name=re.compile("FOI-2026-0101"))).to_contain_text("by Dana Price")
    members = page.get_by_role("table", name="Each member's record")
    expect(members.get_by_role("link", name="Morgan Lee")).to_be_visible()
