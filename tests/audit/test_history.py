"""The history browser: every kind of change, filters, field-level diffs, flat queries."""

import pytest
from django.urls import reverse

from attestations.audit import history as audit
from attestations.audit import views as views_audit
from tests import factories


def _page(client, **params):
    response = client.get(reverse("audit:history"), params)
    assert response.status_code == 200
    return response.context["page"], response.content.decode()


@pytest.mark.django_db
def test_it_lists_changes_of_every_kind_with_who_made_them(client, auditor, record):
    client.force_login(auditor)
    page, html = _page(client)
    kinds = {entry["kind"] for entry in page.object_list}
    assert kinds == {
        "group", "membership", "cycle", "obligation", "flag", "hold", "hold_notice", "review", "review_answer",
    }  # fmt: skip
    handover = next(e for e in page.object_list if e["kind"] == "group" and e["reason"] == "Admin handed over")
    assert handover["who"] == "Dana Price"
    assert handover["changes"] == [{"field": "admin", "old": "Grace Adeyemi", "new": "Morgan Lee"}]
    assert "Grace Adeyemi" in html and "Morgan Lee" in html


@pytest.mark.django_db
def test_it_filters_by_kind_object_person_group_and_dates(client, auditor, record, member):
    other = factories.ChatGroupFactory(name="Other Team")
    client.force_login(auditor)
    page, _ = _page(client, kind="obligation")
    assert {e["kind"] for e in page.object_list} == {"obligation"}
    page, _ = _page(client, kind="obligation", object=record.attested.pk)
    assert {e["object_id"] for e in page.object_list} == {record.attested.pk}
    assert any(e["action"] == "Changed" and e["who"] == "Morgan Lee" for e in page.object_list)
    page, _ = _page(client, by="dpo")
    assert page.object_list and {e["who"] for e in page.object_list} == {"Dana Price"}
    page, _ = _page(client, group=other.pk)
    assert page.object_list and {e["kind"] for e in page.object_list} == {"group", "membership"}
    assert {e["subject"] for e in page.object_list if e["kind"] == "group"} == {"Other Team"}
    page, html = _page(client, group=record.group.pk, to="2026-01-01")
    assert not page.object_list and "No changes match these filters." in html
    page, _ = _page(client, group=record.group.pk, **{"from": "2026-11-10", "to": "2026-11-10"})
    assert page.object_list


def _every_change(kinds=None) -> list[tuple]:
    """(kind, change number) of every change, in the page's order: newest first, then by
    kind (the order of HISTORY_KINDS, last first), then by change number, last first."""
    rows = []
    for key, kind in audit.HISTORY_KINDS.items():
        if kinds is None or key in kinds:
            for when, history_id in kind.historical.objects.values_list("history_date", "history_id"):
                rows.append((when, audit.KIND_RANK[key], history_id, key))
    rows.sort(reverse=True)
    return [(key, history_id) for _, _, history_id, key in rows]


def _walk(client, link: str, params: dict) -> tuple[list[list[tuple]], object]:
    """Follow the `link` ("older" or "newer") from page to page: the pages' changes, and the
    last page."""
    pages = []
    while True:
        page, html = _page(client, **params)
        pages.append([(e["kind"], e["history_id"]) for e in page.object_list])
        position = getattr(page, link)
        if not position:
            return pages, page
        assert f"after={position}" in html or f"before={position}" in html  # the link is on the page
        params = {k: v for k, v in params.items() if k not in ("after", "before")}
        params["after" if link == "older" else "before"] = position


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(views_audit, "PAGE_SIZE", 4)


@pytest.mark.django_db
def test_it_pages_by_position_through_every_change_once_in_order(client, auditor, record, small_pages):
    # The clock stands still: most changes share one instant, across kinds and within one.
    client.force_login(auditor)
    expected = _every_change()
    assert len(expected) > 12
    pages, last = _walk(client, "older", {})
    assert all(len(p) == 4 for p in pages[:-1]) and 0 < len(pages[-1]) <= 4
    assert [change for page in pages for change in page] == expected
    # Back again from the last page by the "newer" links: the same pages, the other way.
    back, newest = _walk(client, "newer", {"before": last.newer})
    assert back == pages[:-1][::-1]
    assert newest.is_first


@pytest.mark.django_db
def test_going_newer_from_a_page_gives_the_page_before_it(client, auditor, record, small_pages):
    client.force_login(auditor)
    first, _ = _page(client)
    second, html = _page(client, after=first.older)
    assert "Newest changes" in html
    again, _ = _page(client, before=second.newer)
    assert [e["history_id"] for e in again.object_list] == [e["history_id"] for e in first.object_list]
    assert again.is_first and not again.newer


@pytest.mark.django_db
def test_a_page_link_is_stable_when_changes_are_added(client, auditor, record, small_pages, clock):
    client.force_login(auditor)
    first, _ = _page(client)
    second, _ = _page(client, after=first.older)
    clock.shift(60)
    factories.ChatGroupFactory(name="Made later")  # newer changes: the bookmarked page does not move
    again, _ = _page(client, after=first.older)
    assert [e["history_id"] for e in again.object_list] == [e["history_id"] for e in second.object_list]


@pytest.mark.django_db
def test_it_pages_with_filters_kept(client, auditor, record, small_pages):
    client.force_login(auditor)
    pages, _ = _walk(client, "older", {"kind": "obligation"})
    assert [c for page in pages for c in page] == _every_change(kinds={"obligation"})
    page, html = _page(client, kind="obligation")
    if page.older:
        assert "kind=obligation&amp;after=" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "position",
    [
        "x",
        "20261110T120000.000000Z~obligation",
        "20261110T120000.000000Z~nothing~5",
        "20261110T120000.000000~obligation~5",  # no time zone
        "2026-11-10T12:00:00+00:00~obligation~5",
        "20261340T120000.000000Z~obligation~5",
        "20261110T120000.000000Z~obligation~-5",
        "20261110T120000.000000Z~obligation~" + "5" * 100,
        "20261110T120000.000000Z~obligation~\x00",
        "20261110T120000.000000Z~obligation~٣",
    ],
)
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_bad_position_is_a_clear_error_and_the_newest_page(client, auditor, record, position, direction):
    client.force_login(auditor)
    response = client.get(reverse("audit:history"), {direction: position})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Showing the newest changes instead." in html
    assert response.context["page"].is_first and response.context["page"].object_list


@pytest.mark.django_db
def test_the_history_query_count_stays_flat(client, auditor, dpo, clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as ctx:
            _page(client)
        return len(ctx)

    def add(n):
        for _ in range(n):
            group = factories.ChatGroupFactory()
            factories.MembershipFactory(group=group)
            factories.HoldFactory(group=group, placed_by=dpo)

    client.force_login(auditor)
    add(2)
    small = count()
    add(25)
    # The page of 50 is a mix of kinds: at most two queries per kind and one per related
    # model, whatever the number of rows behind it.
    assert count() <= small
