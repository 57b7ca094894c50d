"""The DPO dashboard in a real browser: chart and table render, screenshots at two sizes."""

import datetime as dt
import random

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.attestations.conftest import restore_roles
from tests.dashboard.conftest import A1_DUE, A1_END, NOW, make_cycle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = ["Victims Liaison", "Board Papers", "Estates Move", "Media Desk", "Partnerships", "Scrutiny Panel",
         "Youth Forum", "Finance Close", "Custody Visitors", "Events Team"]  # fmt: skip


@pytest.fixture(autouse=True)
def _roles(django_db_blocker):
    # Transactional tests end by emptying every table, the roles of the data migrations
    # included: make sure they are there before, and put them back after.
    with django_db_blocker.unblock():
        restore_roles()
    yield
    with django_db_blocker.unblock():
        restore_roles()


@pytest.fixture(autouse=True)
def clock(time_machine):
    # The browser and the live server need a running clock.
    time_machine.move_to(NOW, tick=True)
    return time_machine


def add_history(admin_user, weeks: int = 10) -> None:
    """A few groups with ten weeks of clear-downs, most on time, some late, a few overdue."""
    rng = random.Random(5)
    for i, name in enumerate(NAMES):
        group = factories.ChatGroupFactory(name=name, admin=admin_user if i == 0 else factories.UserFactory())
        people = [group.admin] + [factories.UserFactory() for _ in range(5)]
        for person in people[1:]:
            factories.MembershipFactory(group=group, user=person)
        reliability = 0.95 - 0.06 * (i % 5)
        for k in range(weeks):
            end, due = A1_END - dt.timedelta(weeks=k), A1_DUE - dt.timedelta(weeks=k)
            cycle = make_cycle(group, end, due)
            for person in people:
                roll = rng.random()
                if roll < reliability:
                    state, at = "on_time", end + dt.timedelta(hours=rng.randint(1, 40))
                elif roll < reliability + 0.06:
                    state, at = "late", due + dt.timedelta(hours=rng.randint(1, 30))
                else:
                    state, at = "pending", None
                factories.obligation_in_state(cycle=cycle, user=person, state=state, attested_at=at)


def test_the_dpo_sees_the_chart_and_the_table(live_server, login_page, dpo, office, admin_user, tmp_path):
    add_history(admin_user)
    page = login_page(dpo)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Clear-down dashboard")).to_be_visible()
    chart = page.locator("img.trend-chart")
    expect(chart).to_be_visible()
    # The SVG arrived and was drawn (an image that failed to load has no natural width).
    expect(chart).to_have_js_property("complete", True)
    assert chart.evaluate("img => img.naturalWidth") > 0
    table = page.get_by_role("table", name="Groups")
    expect(table).to_be_visible()
    expect(table.get_by_role("row")).to_have_count(1 + 14)
    expect(table.get_by_role("link", name="Urgent Ops")).to_be_visible()
    page.get_by_text("The weekly figures as a table").click()
    expect(page.get_by_role("table", name="Weekly compliance")).to_be_visible()

    page.get_by_text("The weekly figures as a table").click()  # closed again for the picture
    for name, size in (("desktop", (1280, 900)), ("phone", (390, 844))):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.evaluate("window.scrollTo(0, 0)")
        # The README's pictures come from `make screenshots`; these are for a look after a failure.
        page.screenshot(path=str(tmp_path / f"dashboard-{name}.png"))

    # Two clicks from the dashboard to who is at fault: the group, then the person.
    page.set_viewport_size({"width": 1280, "height": 900})
    table.get_by_role("link", name="Urgent Ops").click()
    expect(page.get_by_role("heading", name="Urgent Ops")).to_be_visible()
    page.get_by_role("table", name="Each member's record").get_by_role("link", name="Pat Overdue").click()
    expect(page.get_by_role("heading", name="Pat Overdue")).to_be_visible()
