"""The legal pages: privacy notice, accessibility statement and cookies.

Their office-specific parts come from settings; a value not set shows "not yet configured"
rather than invented text. Retention periods and cookies are read from the settings the
portal runs on, so the pages say what the portal does.
"""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from opcc_portal import legal
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 6, 12, 0, tzinfo=ZoneInfo("Europe/London"))
PAGES = ("privacy", "accessibility", "cookies")
NOT_SET = "not yet configured"

OFFICE = {
    "ORGANISATION_NAME": "Office of the Police and Crime Commissioner for Testshire",
    "ORGANISATION_ADDRESS": "1 Example Street, Testtown, TT1 1AA",
    "ICO_REGISTRATION_NUMBER": "Z1234567",
    "DPO_NAME": "Priya Patel",
    "DPO_EMAIL": "dpo@testshire.example",
    "DPO_PHONE": "01234 567890",
    "ACCESSIBILITY_CONTACT_EMAIL": "access@testshire.example",
    "ACCESSIBILITY_CONTACT_PHONE": "01234 000111",
    "LEGAL_PREPARED_ON": dt.date(2026, 9, 1),
    "LEGAL_REVIEWED_ON": dt.date(2026, 11, 2),
}


@pytest.fixture
def office(settings):
    for name, value in OFFICE.items():
        setattr(settings, name, value)
    return settings


@pytest.fixture
def unconfigured(settings):
    for name in OFFICE:
        setattr(settings, name, None if name.startswith("LEGAL_") else "")
    return settings


def page_text(client, name: str) -> str:
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode()


def between(body: str, start: str, end: str) -> str:
    return body[body.index(start) : body.index(end, body.index(start))]


def test_it_shows_the_office_details_from_settings(client, office):
    privacy = page_text(client, "privacy")
    for value in ("Testshire", "1 Example Street, Testtown, TT1 1AA", "Z1234567", "Priya Patel"):
        assert value in privacy
    assert '<a href="mailto:dpo@testshire.example">dpo@testshire.example</a>' in privacy
    assert '<a href="tel:01234567890">01234 567890</a>' in privacy
    assert "prepared on 1 September 2026" in privacy and "last reviewed on 2 November 2026" in privacy

    statement = page_text(client, "accessibility")
    assert "This website is run by Office of the Police and Crime Commissioner for Testshire" in statement
    assert '<a href="mailto:access@testshire.example">' in statement and '<a href="tel:01234000111">' in statement
    assert "1 Example Street, Testtown, TT1 1AA" in statement
    assert "prepared on 1 September 2026" in statement and "last reviewed on 2 November 2026" in statement

    cookies = page_text(client, "cookies")
    assert '<a href="mailto:dpo@testshire.example">' in cookies and "last reviewed on 2 November 2026" in cookies

    for body in (privacy, statement, cookies):
        assert NOT_SET not in body


@pytest.mark.parametrize("name", PAGES)
def test_it_says_not_yet_configured_for_each_detail_not_set(client, unconfigured, name):
    body = page_text(client, name)
    summary = between(body, "Some details are not yet configured", "</div>")
    for setting in legal.PAGE_DETAILS[name]:
        assert f"<code>{setting}</code>" in summary
    marked = body.count(f'<span class="not-configured">{NOT_SET}</span>')
    assert marked >= len(legal.PAGE_DETAILS[name])
    # Nothing invented in their place: no address, number or date of any office.
    assert "mailto:" not in body.replace("mailto:dpo@", "")  # (no mail links at all)
    assert not re.search(r"prepared on \d", body)


def test_one_missing_detail_is_flagged_alone(client, office):
    office.DPO_PHONE = ""
    body = page_text(client, "privacy")
    summary = between(body, "Some details are not yet configured", "</div>")
    assert "<code>DPO_PHONE</code>" in summary and "<code>DPO_EMAIL</code>" not in summary
    assert body.count(f'<span class="not-configured">{NOT_SET}</span>') == 1


def test_the_privacy_notice_shows_the_retention_periods_from_settings(client, settings):
    settings.RETENTION = {**settings.RETENTION, "emails": 2 * 365, "flags": 90, "sign_ins": 1, "holds": None}
    body = page_text(client, "privacy")

    def period(kind):
        row = between(body, f'<tr id="retention-{kind}">', "</tr>")
        return re.findall(r"<td>(.*?)</td>", row)[-1]

    assert period("emails") == "2 years"
    assert period("flags") == "90 days"
    assert period("sign_ins") == "1 day"
    assert period("clear_downs") == "3 years"
    assert period("holds") == "Kept while the portal is in use"


def test_every_kind_of_record_in_the_retention_setting_is_on_the_notice(settings):
    assert list(settings.RETENTION) == list(legal.RETENTION_KINDS)
    # The defaults (README "Retention"): only the register's history is kept for good.
    assert [kind for kind, days in settings.RETENTION.items() if days is None] == ["register_history"]


def test_a_kind_of_record_the_notice_does_not_describe_stops_it(settings):
    settings.RETENTION = {**settings.RETENTION, "chat_content": 30}
    with pytest.raises(ImproperlyConfigured, match="chat_content"):
        legal.retention_schedule()


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (7200, "2 hours"),
        (3600, "1 hour"),
        (1800, "30 minutes"),
        (31449600, "52 weeks"),
        (86400, "1 day"),
        (61, "61 seconds"),
    ],
)
def test_durations_are_said_in_the_largest_whole_unit(seconds, words):
    assert legal.duration_in_words(seconds) == words


def test_the_cookies_page_reads_names_lifetimes_and_flags_from_settings(client, settings):
    settings.SESSION_COOKIE_NAME = "portal_session"
    settings.CSRF_COOKIE_NAME = "portal_csrf"
    settings.SESSION_COOKIE_AGE = 1800
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    body = page_text(client, "cookies")
    session = between(body, "<code>portal_session</code>", "</section>")
    assert "30 minutes after your last visit to a page" in session
    assert "(HttpOnly)" in session and "(Secure)" in session and "SameSite=Lax" in session
    csrf = between(body, "<code>portal_csrf</code>", "</section>")
    assert "52 weeks" in csrf and "(Secure)" in csrf
    assert "<code>messages</code>" in body
    assert "sets only the 3 cookies below" in body


def test_the_cookies_page_leaves_out_cookies_the_settings_turn_off(client, settings):
    settings.CSRF_USE_SESSIONS = True
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    body = page_text(client, "cookies")
    assert re.findall(r"<h3[^>]*><code>(.*?)</code>", body) == ["sessionid"]
    assert "Until you close the browser" in body and "only the 1 cookie below" in body


def test_every_cookie_the_portal_sets_is_on_the_cookies_page(client, member, time_machine):
    """Sign in, propose a group (a confirmation message on the next page) and sign out, and
    collect every cookie the portal set on the way."""
    time_machine.move_to(NOW, tick=True)
    seen = set()

    def visit(response):
        seen.update(response.cookies.keys())
        return response

    visit(client.get(reverse("login")))
    visit(client.post(reverse("login"), {"username": member.username, "password": PASSWORD}))
    proposal = {"name": "Cookie Check", "purpose": "A test", "cycle_weekday": 4, "cycle_time": "17:00"}
    group_url = visit(client.post(reverse("groups:propose"), proposal))["Location"]
    assert "has been proposed" in visit(client.get(group_url)).content.decode()
    visit(client.post(reverse("logout")))
    assert seen == {"csrftoken", "sessionid", "messages"}

    body = page_text(client, "cookies")
    listed = set(re.findall(r"<h3[^>]*><code>(.*?)</code>", body))
    assert seen <= listed


def test_the_accessibility_statement_gives_the_real_session_time_limit(client, settings):
    settings.SESSION_COOKIE_AGE = 3600
    body = page_text(client, "accessibility")
    assert "signed out without a warning after 1 hour" in body
    assert "WCAG 2.2 success criterion 2.2.1" in body


@pytest.mark.parametrize("name", PAGES)
def test_it_is_readable_signed_out(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert response.wsgi_request.user.is_anonymous
    assert client.head(reverse(name)).status_code == 200
    assert client.post(reverse(name)).status_code == 405


def legal_links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html)) & {reverse(name) for name in PAGES}


def test_every_page_has_the_legal_links_in_its_footer(client, member, group):
    anonymous = [reverse("login"), reverse("password_reset"), "/no-such-page/", *map(reverse, PAGES)]
    signed_in = [reverse("home"), reverse("groups:register"), reverse("groups:detail", args=[group.pk])]
    checked = 0
    for url in anonymous + ["sign in"] + signed_in:
        if url == "sign in":
            client.force_login(member)
            continue
        body = client.get(url).content.decode()
        footer = between(body, "<footer", "</footer>")
        assert legal_links(footer) == {reverse(name) for name in PAGES}, url
        checked += 1
    assert checked == len(anonymous) + len(signed_in)


def test_the_sign_in_page_links_to_them_beside_the_form(client):
    body = page_text(client, "login")
    main = between(body, "<main", "</main>")
    assert legal_links(main) == {reverse(name) for name in PAGES}
