"""The emails page: every email the portal recorded, for the DPO and auditors, with filters.

And the dashboard's notice of emails that failed in the last 30 days.
"""

import datetime as dt
import itertools
import re

import pytest
from django.db import connection
from django.urls import reverse

from attestations.models import SentEmail
from tests import factories
from tests.dashboard.conftest import NOW, text

pytestmark = pytest.mark.django_db

URL = reverse("dashboard:emails")
_keys = itertools.count()


def make_email(**fields) -> SentEmail:
    defaults = {
        "key": f"test-email-{next(_keys)}",
        "kind": SentEmail.Kind.REMINDER,
        "subject": "Reminder: confirm your clear-down",
        "created_at": NOW - dt.timedelta(hours=1),
        "status": SentEmail.Status.SENT,
        "attempts": 1,
    }
    defaults.update(fields)
    if defaults["status"] == SentEmail.Status.SENT:
        defaults.setdefault("sent_at", defaults["created_at"] + dt.timedelta(seconds=5))
    if defaults["attempts"]:
        defaults.setdefault("attempted_at", defaults["created_at"] + dt.timedelta(seconds=5))
    user = defaults.get("user")
    if user is not None:
        defaults.setdefault("to_address", user.email)
    return SentEmail.objects.create(**defaults)


@pytest.fixture
def emails(office, member, admin_user, dpo):
    """A reminder sent, a digest that failed, a DPO summary (no group) not sent, one queued."""
    return {
        "reminder": make_email(user=member, group=office.a, cycle=office.a1),
        "digest": make_email(
            kind=SentEmail.Kind.ADMIN_DIGEST,
            user=admin_user,
            subject="1 overdue clear-down in Urgent Ops",
            group=office.a,
            cycle=office.a1,
            created_at=NOW - dt.timedelta(days=3),
            status=SentEmail.Status.FAILED,
            attempts=4,
            error="SMTPServerDisconnected: Connection unexpectedly closed",
        ),
        "summary": make_email(
            kind=SentEmail.Kind.DPO_SUMMARY,
            user=dpo,
            subject="Weekly clear-down summary",
            created_at=NOW - dt.timedelta(days=1),
            status=SentEmail.Status.CANCELLED,
            attempts=0,
            error="The DPO has no email address",
        ),
        "queued": make_email(
            user=office.quinn,
            to_address="",
            subject="",
            group=office.b,
            created_at=NOW - dt.timedelta(minutes=5),
            status=SentEmail.Status.PENDING,
            attempts=0,
        ),
    }


def subjects(page: str) -> list[str]:
    return re.findall(r'<td class="email-subject">(.*?)</td>', page)


# --- Who may see it ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 302), ("member", 403), ("outsider", 403), ("admin_user", 403), ("dpo", 200), ("auditor", 200)],
)
def test_it_is_for_the_dpo_and_auditors_only(client, request, emails, role, expected):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    response = client.get(URL)
    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))
    if expected == 403:
        assert "1 overdue clear-down in Urgent Ops" not in text(response)


@pytest.mark.parametrize("role", ["dpo", "auditor", "member"])
def test_it_changes_nothing(client, request, emails, role):
    client.force_login(request.getfixturevalue(role))
    before = list(SentEmail.objects.order_by("pk").values())
    assert client.post(URL, {"status": "sent"}).status_code == 405
    assert list(SentEmail.objects.order_by("pk").values()) == before


def test_a_group_admin_is_not_offered_the_page(client, admin_user, office, emails):
    client.force_login(admin_user)
    index = text(client.get(reverse("dashboard:index")))
    drill = text(client.get(reverse("dashboard:group", args=[office.a.pk])))
    assert URL not in index and URL not in drill
    assert "failed in the last" not in index


# --- What it shows -----------------------------------------------------------------------


def test_it_lists_every_email_newest_first_with_who_what_when_and_the_result(dpo_client, emails, office, member):
    page = text(dpo_client.get(URL))
    assert subjects(page) == [
        '<span class="text-body-secondary">Written when sent</span>',
        "Reminder: confirm your clear-down",
        "Weekly clear-down summary",
        "1 overdue clear-down in Urgent Ops",
    ]
    assert "4 emails." in page and page.count("<h1") == 1
    # UK time is GMT in November: the reminder was made an hour before NOW (12:00).
    assert '<time datetime="2026-11-17T11:00:00+00:00"><span class="text-nowrap">Tue 17 Nov 2026,</span>' in page
    assert '<span class="text-nowrap">11:00</span></time>' in page
    assert "Reminder before the deadline" in page and "Weekly summary to the DPO" in page
    assert "Morgan Lee" in page and member.email in page
    assert f'<a href="{reverse("dashboard:group", args=[office.a.pk])}?' in page
    assert '<span class="badge status-badge status-failed">Failed</span>' in page
    assert '<span class="badge status-badge status-cancelled">Not sent</span>' in page
    assert '<span class="badge status-badge status-pending">Queued</span>' in page
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in page
    assert "The DPO has no email address" in page
    assert 'tabindex="0" role="region" aria-labelledby="emails-caption"' in page


def test_it_shows_times_in_uk_summer_time(dpo_client, office, member):
    make_email(user=member, created_at=dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.UTC))
    page = text(dpo_client.get(URL))
    assert 'datetime="2026-07-01T09:30:00+01:00"' in page
    assert 'Wed 1 Jul 2026,</span> <span class="text-nowrap">09:30</span>' in page


def test_it_counts_each_status_at_the_top(dpo_client, emails):
    page = text(dpo_client.get(URL))
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd><a [^>]*>(\d+)</a>", page))
    assert counts == {"Queued": "1", "Sent": "1", "Failed": "1", "Not sent": "1"}
    assert 'href="?status=failed"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=failed", ["1 overdue clear-down in Urgent Ops"]),
        ("?status=cancelled", ["Weekly clear-down summary"]),
        ("?kind=dpo_summary", ["Weekly clear-down summary"]),
        ("?kind=reminder&status=sent", ["Reminder: confirm your clear-down"]),
        ("?kind=admin_digest&status=sent", []),
    ],
)
def test_it_filters_by_status_and_kind(dpo_client, emails, query, expected):
    page = text(dpo_client.get(URL + query))
    assert subjects(page) == expected
    assert f"{len(expected)} email{'' if len(expected) == 1 else 's'}" in page
    if "status=failed" in query:
        assert "1 email with the status “Failed”." in page
    if not expected:
        assert "No emails match these filters." in page


def test_the_counts_follow_the_kind_and_group_but_not_the_status(dpo_client, emails, office):
    page = text(dpo_client.get(URL + f"?status=sent&group={office.a.pk}"))
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd><a [^>]*>(\d+)</a>", page))
    assert counts == {"Queued": "0", "Sent": "1", "Failed": "1", "Not sent": "0"}
    assert "Show every status (2)" in page


def status_counts(page: str) -> dict[str, str]:
    return dict(re.findall(r"<dt>([^<]+)</dt><dd><a [^>]*>(\d+)</a>", page))


def test_the_counts_are_the_kept_ones_unless_a_group_is_chosen(dpo_client, emails, office):
    """Every email or one kind: the counts kept by triggers (`SentEmailCount`), not a count of
    every email. One group: its own emails, counted."""
    with connection.cursor() as cursor:  # a figure only the kept counts hold
        cursor.execute("UPDATE attestations_sentemailcount SET n = 40 WHERE kind = 'reminder' AND status = 'sent'")
    assert status_counts(text(dpo_client.get(URL))) == {"Queued": "1", "Sent": "40", "Failed": "1", "Not sent": "1"}
    page = text(dpo_client.get(URL + "?kind=reminder"))
    assert status_counts(page) == {"Queued": "1", "Sent": "40", "Failed": "0", "Not sent": "0"}
    assert "41 emails" in page
    page = text(dpo_client.get(URL + f"?group={office.a.pk}"))
    assert status_counts(page) == {"Queued": "0", "Sent": "1", "Failed": "1", "Not sent": "0"}


def test_it_filters_by_group_including_escalations_that_reported_its_flags(dpo_client, emails, office, dpo):
    escalation = make_email(
        kind=SentEmail.Kind.DPO_ESCALATION,
        user=dpo,
        subject="Escalation: 1 flag open",
        created_at=NOW - dt.timedelta(hours=2),
    )
    escalation.flags.add(*office.a1.flags.all())
    page = text(dpo_client.get(URL + f"?group={office.a.pk}"))
    assert subjects(page) == [
        "Reminder: confirm your clear-down",
        "Escalation: 1 flag open",
        "1 overdue clear-down in Urgent Ops",
    ]
    assert "about Urgent Ops" in page
    assert f'<option value="{office.a.pk}" selected>Urgent Ops</option>' in page
    page = text(dpo_client.get(URL + f"?group={office.b.pk}"))
    assert subjects(page) == ['<span class="text-body-secondary">Written when sent</span>']


@pytest.mark.parametrize("query", ["?status=banana", "?kind=%3Cscript%3E", "?group=abc", "?group=999999", "?group=-1"])
def test_an_unknown_filter_value_is_a_form_error_not_a_500(dpo_client, emails, query):
    response = dpo_client.get(URL + query)
    assert response.status_code == 200
    page = text(response)
    assert "There is a problem" in page and 'aria-invalid="true"' in page
    assert "<script>" not in page
    assert "4 emails." in page  # the bad filter is left out, and the page says so
    assert "instead." in page


def _older(page: str) -> str | None:
    match = re.search(r'href="\?([^"]*after=[^"]*)" *>Older emails', page) or re.search(
        r'rel="next" href="\?([^"]*)"', page
    )
    return match.group(1).replace("&amp;", "&") if match else None


def _newer(page: str) -> str | None:
    match = re.search(r'rel="prev" href="\?([^"]*)"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def test_it_pages_50_at_a_time_by_position_older_and_newer(dpo_client, member):
    for i in range(60):
        make_email(user=member, subject=f"Email {i:02d}", created_at=NOW - dt.timedelta(minutes=i))
    first = text(dpo_client.get(URL))
    assert subjects(first) == [f"Email {i:02d}" for i in range(50)]
    assert "60 emails." in first and _newer(first) is None
    older = _older(first)
    assert older is not None and older.startswith("after=")
    response = dpo_client.get(f"{URL}?{older}")
    assert response.status_code == 200
    second = text(response)
    assert subjects(second) == [f"Email {i:02d}" for i in range(50, 60)]
    assert _older(second) is None and "Newest emails" in second
    back = text(dpo_client.get(f"{URL}?{_newer(second)}"))
    assert subjects(back) == subjects(first) and _newer(back) is None


def test_emails_made_at_the_same_instant_are_neither_lost_nor_repeated(dpo_client, member):
    # 120 emails in four instants: every page boundary falls inside a tie.
    for i in range(120):
        make_email(user=member, subject=f"Email {i:03d}", created_at=NOW - dt.timedelta(minutes=i // 30))
    expected = list(SentEmail.objects.order_by("-created_at", "-pk").values_list("subject", flat=True))
    seen, query = [], ""
    while True:
        page = text(dpo_client.get(f"{URL}?{query}"))
        seen += subjects(page)
        query = _older(page)
        if query is None:
            break
    assert seen == expected


def test_a_bookmarked_page_keeps_its_emails_when_new_ones_come(dpo_client, member):
    for i in range(60):
        make_email(user=member, subject=f"Email {i:02d}", created_at=NOW - dt.timedelta(minutes=i))
    older = _older(text(dpo_client.get(URL)))
    make_email(user=member, subject="Newer still", created_at=NOW + dt.timedelta(minutes=1))
    assert subjects(text(dpo_client.get(f"{URL}?{older}"))) == [f"Email {i:02d}" for i in range(50, 60)]


@pytest.mark.parametrize(
    "position",
    ["x", "20261110T120000.000000Z", "20261110T120000.000000Z~nothing~5", "2026-11-10T12:00:00~5", "20261110T120000Z~5",
     "20261110T120000.000000Z~-5", "20261110T120000.000000Z~" + "5" * 90],
)  # fmt: skip
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_bad_position_is_a_clear_error_and_the_newest_page(dpo_client, member, position, direction):
    for i in range(3):
        make_email(user=member, subject=f"Email {i:02d}", created_at=NOW - dt.timedelta(minutes=i))
    response = dpo_client.get(URL, {direction: position})
    assert response.status_code == 400
    page = text(response)
    assert "Showing the newest emails instead." in page
    assert subjects(page) == ["Email 00", "Email 01", "Email 02"]


def test_the_pages_keep_the_filters(dpo_client, member):
    for i in range(55):
        make_email(user=member, status=SentEmail.Status.FAILED, error="x", created_at=NOW - dt.timedelta(minutes=i))
    make_email(user=member, subject="Sent, not failed", created_at=NOW - dt.timedelta(minutes=30, seconds=30))
    page = text(dpo_client.get(URL + "?status=failed"))
    older = _older(page)
    assert older.startswith("status=failed&after=")
    second = text(dpo_client.get(f"{URL}?{older}"))
    assert len(subjects(second)) == 5 and "Sent, not failed" not in second


def test_the_drill_down_links_to_every_email_of_its_group(dpo_client, office, emails):
    page = text(dpo_client.get(reverse("dashboard:group", args=[office.a.pk])))
    assert f'href="{URL}?group={office.a.pk}"' in page


# --- The dashboard's notice --------------------------------------------------------------


def notice(page: str) -> str | None:
    match = re.search(r'<div class="alert alert-danger failed-emails">(.*?)</div>', page, re.S)
    return " ".join(match.group(1).split()) if match else None


def test_the_dashboard_links_to_the_emails_page(dpo_client, office):
    page = text(dpo_client.get(reverse("dashboard:index")))
    assert f'<nav aria-label="Dashboard pages" class="mb-2"><a href="{URL}">Emails sent</a></nav>' in page


def test_the_dashboard_warns_of_emails_that_failed_in_the_last_30_days(client, request, office, member):
    make_email(user=member, status=SentEmail.Status.FAILED, error="x", created_at=NOW - dt.timedelta(days=2))
    make_email(user=member, status=SentEmail.Status.FAILED, error="y", created_at=NOW - dt.timedelta(days=29))
    make_email(user=member, status=SentEmail.Status.FAILED, error="old", created_at=NOW - dt.timedelta(days=40))
    for role in ("dpo", "auditor"):
        client.force_login(request.getfixturevalue(role))
        found = notice(text(client.get(reverse("dashboard:index"))))
        assert found == (
            f"<strong>2 emails failed in the last 30 days.</strong> "
            f'<a class="alert-link" href="{URL}?status=failed">See the failed emails</a>'
        )


@pytest.mark.parametrize("status", ["sent", "cancelled", "pending"])
def test_the_dashboard_says_nothing_when_no_email_failed(dpo_client, office, member, status):
    make_email(user=member, status=status, created_at=NOW - dt.timedelta(days=1))
    make_email(user=member, status="failed", error="old", created_at=NOW - dt.timedelta(days=31))
    assert notice(text(dpo_client.get(reverse("dashboard:index")))) is None


def test_the_notice_goes_when_the_failure_leaves_the_window(dpo_client, office, member, clock):
    make_email(user=member, status="failed", error="x", created_at=NOW - dt.timedelta(days=1))
    assert notice(text(dpo_client.get(reverse("dashboard:index")))).startswith("<strong>1 email failed")
    clock.move_to(NOW + dt.timedelta(days=30), tick=False)
    assert notice(text(dpo_client.get(reverse("dashboard:index")))) is None


# --- Queries -----------------------------------------------------------------------------

# session, user, two of permissions; groups of the filter, counts by status (which give
# the total too), the page's rows, people who cannot be emailed. No save of the session: it
# was renewed at sign-in (SESSION_REFRESH_SECONDS). No count of the rows: the page is by position.
EMAILS_QUERIES = 8


@pytest.mark.parametrize("n", [5, 120])
@pytest.mark.parametrize(
    "query", ["", "?status=failed&kind=admin_digest", "?group={group}&after=20261110T120000.000000Z~9"]
)
def test_it_lists_the_emails_in_the_same_number_of_queries(dpo_client, office, n, query, django_assert_num_queries):
    people = [factories.UserFactory() for _ in range(5)]
    groups = [office.a, office.b, office.c]
    for i in range(n):
        make_email(
            kind=SentEmail.Kind.values[i % 5],
            user=people[i % 5],
            group=groups[i % 3] if i % 4 else None,
            status=SentEmail.Status.values[i % 4],
            error="x" if i % 4 >= 2 else "",
            created_at=NOW - dt.timedelta(minutes=i),
        )
    url = URL + query.format(group=office.a.pk)
    dpo_client.get(url)
    with django_assert_num_queries(EMAILS_QUERIES):
        response = dpo_client.get(url)
    assert response.status_code == 200
