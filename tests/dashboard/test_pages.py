"""The dashboard pages: figures with links to their rows, the date filter, sorting, the CSV and the chart."""

import csv
import io
import re

import pytest
from django.urls import reverse

from tests import factories
from tests.dashboard.conftest import text

pytestmark = pytest.mark.django_db


def test_it_shows_the_headline_figures_each_linking_to_its_rows(dpo_client, office):
    page = text(dpo_client.get(reverse("dashboard:index")))
    assert re.search(r'latest=1&amp;bucket=overdue">1</a>', page)
    assert re.search(r'latest=1&amp;bucket=held">2</a>', page)
    assert "60% done" in page and "(3 of 5 owed)" in page
    rows = dpo_client.get(reverse("dashboard:obligations") + "?latest=1&bucket=overdue")
    assert "Pat Overdue" in text(rows) and "1 clear-down." in text(rows)
    flags = dpo_client.get(reverse("dashboard:flags") + "?which=open")
    assert "Pat Overdue" in text(flags) and "1 flag." in text(flags)


def test_it_draws_the_trend_as_an_svg_with_no_script_and_a_table(dpo_client, office):
    page = text(dpo_client.get(reverse("dashboard:index")))
    assert '<img class="img-fluid trend-chart" src="/dashboard/trend.svg?' in page
    assert "<caption>Weekly compliance" in page and "33.3%" in page
    svg = dpo_client.get(reverse("dashboard:trend_svg"))
    assert svg["Content-Type"].startswith("image/svg+xml")
    body = svg.content.decode()
    assert body.lstrip().startswith("<?xml") and "<svg" in body
    assert "<script" not in body and "http://kozea" not in body and "cdn" not in body.lower()


def test_the_page_keeps_to_the_content_security_policy(dpo_client, office):
    response = dpo_client.get(reverse("dashboard:index"))
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    page = text(response)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and not re.search(r"\sstyle=|<style", page)


def test_it_sorts_by_a_column_with_aria_sort_and_filters(dpo_client, office):
    page = text(dpo_client.get(reverse("dashboard:index") + "?sort=name&dir=desc"))
    assert 'aria-sort="descending"><a href="?sort=name&amp;dir=asc' in page
    names = re.findall(r'<th scope="row" class="group-name"><a href="[^"]+">([^<]+)</a>', page)
    assert names == ["Urgent Ops", "New Idea", "Estates Project", "Comms On-Call"]
    page = text(dpo_client.get(reverse("dashboard:index") + "?attention=1"))
    assert re.findall(r'class="group-name"><a href="[^"]+">([^<]+)</a>', page) == ["Urgent Ops"]
    assert "Needs attention" in page
    page = text(dpo_client.get(reverse("dashboard:index") + "?status=proposed"))
    assert re.findall(r'class="group-name"><a href="[^"]+">([^<]+)</a>', page) == ["New Idea"]


def test_the_date_filter_moves_this_cycle_and_is_carried_by_every_link(dpo_client, office):
    page = text(dpo_client.get(reverse("dashboard:index") + "?from=2026-10-01&to=2026-11-12"))
    assert 'value="2026-11-12"' in page and "100% done" in page and "(2 of 2 owed)" in page
    assert "from=2026-10-01&amp;to=2026-11-12" in page
    rows = text(dpo_client.get(reverse("dashboard:obligations") + "?latest=1&from=2026-10-01&to=2026-11-12"))
    assert "2 clear-downs." in rows


@pytest.mark.parametrize(
    ("query", "message"),
    [("?from=2026-11-12&to=2026-11-01", "on or before"), ("?from=2020-01-01&to=2026-11-12", "two years")],
)
def test_it_refuses_a_bad_range_and_shows_the_default(dpo_client, office, query, message):
    page = text(dpo_client.get(reverse("dashboard:index") + query))
    assert message in page and "Showing the last 26 weeks instead" in page
    assert "60% done" in page


def test_it_ignores_nonsense_in_the_query_string(dpo_client, office):
    for query in ["?from=yesterday", "?sort=drop%20table", "?page=999", "?status=banana&attention=maybe"]:
        assert dpo_client.get(reverse("dashboard:index") + query).status_code == 200
    assert dpo_client.get(reverse("dashboard:obligations") + "?week=not-a-date&bucket=x").status_code == 200


def test_it_exports_the_group_table_as_csv_safe_for_spreadsheets(dpo_client, office, admin_user):
    factories.ChatGroupFactory(name='=HYPERLINK("http://x")', admin=admin_user)
    factories.ChatGroupFactory(name="+44 rota", admin=admin_user)
    response = dpo_client.get(reverse("dashboard:groups_csv"))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="clear-down-groups-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Group", "Status", "Admin"]
    by_name = {row[0]: row for row in rows[1:]}
    assert '\'=HYPERLINK("http://x")' in by_name and "'+44 rota" in by_name
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
    urgent = dict(zip(rows[0], by_name["Urgent Ops"], strict=True))
    assert urgent["This cycle: owed"] == "3" and urgent["This cycle: overdue"] == "1"
    assert urgent["Needs attention"] == "yes" and urgent["Last 8 cycles: done % (oldest first)"] == "100 67"


def test_the_drill_down_answers_who_and_since_when(dpo_client, office):
    page = text(dpo_client.get(reverse("dashboard:group", args=[office.a.pk])))
    assert "Pat Overdue" in page and "Clear-down overdue" in page and "Overdue</span>" in page
    assert 'id="emails-heading"' in page and "No emails about this group in these dates" in page
    person = text(dpo_client.get(reverse("dashboard:person", args=[office.pat.pk])))
    assert "Urgent Ops" in person and "Overdue" in person


def test_every_person_link_of_the_drill_down_opens_that_persons_record(dpo_client, office):
    page = text(dpo_client.get(reverse("dashboard:group", args=[office.a.pk])))
    people = reverse("dashboard:people")
    links = set(re.findall(rf'href="({re.escape(people)}[^"?]+)\?', page))
    assert reverse("dashboard:person", args=[office.pat.pk]) in links and len(links) >= 4
    for link in links:
        assert dpo_client.get(link).status_code == 200


def test_the_drill_down_lists_the_emails_sent_about_the_group(dpo_client, office):
    from django.utils import timezone

    from attestations.models import SentEmail

    SentEmail.objects.create(
        key="test-digest",
        kind=SentEmail.Kind.choices[0][0],
        user=office.pat,
        to_address="pat@example.org",
        subject="Overdue clear-downs in Urgent Ops",
        group=office.a,
        created_at=timezone.now(),
        status="failed",
        attempts=3,
        error="SMTP connection refused",
    )
    page = text(dpo_client.get(reverse("dashboard:group", args=[office.a.pk])))
    assert "Overdue clear-downs in Urgent Ops" in page and "Pat Overdue" in page
    assert "3 attempts" in page and "SMTP connection refused" in page


@pytest.mark.parametrize("value", ["²", "٣", "99999999999999999999999", "-1", "1.0", ""])
def test_a_group_filter_that_is_not_an_id_is_ignored_not_an_error(dpo_client, office, value):
    response = dpo_client.get(reverse("dashboard:obligations"), {"group": value})
    assert response.status_code == 200
