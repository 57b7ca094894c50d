"""Hardening (issue 19): the lock-out by address, password-reset throttle, password strength,
request body cap, absolute session lifetime, bidirectional controls and replaced logos."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from groups import services
from groups.validators import clean_text
from opcc_portal.security import client_ip
from tests.conftest import small_png
from tests.factories import PASSWORD, UserFactory

# --- lock-out by address ------------------------------------------------------------------


@pytest.mark.django_db
def test_it_locks_out_an_address_trying_many_usernames(client, member, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_ADDRESS_FAILURE_LIMIT = 4
    for n in range(4):
        client.post(reverse("login"), {"username": f"guess{n}", "password": "Winter2026!"}, REMOTE_ADDR="10.9.9.9")
    # One failure per username, under the per-user limit, but the address has had four.
    response = client.post(reverse("login"), {"username": "member", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    # Someone else, at another address, is not affected.
    response = client.post(reverse("login"), {"username": "member", "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 302


@pytest.mark.django_db
def test_it_keeps_the_address_count_when_someone_there_signs_in(client, member, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_ADDRESS_FAILURE_LIMIT = 3
    for n in range(2):
        client.post(reverse("login"), {"username": f"guess{n}", "password": "x"}, REMOTE_ADDR="10.9.9.9")
    assert (
        client.post(reverse("login"), {"username": "member", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9").status_code
        == 302
    )
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "guess2", "password": "x"}, REMOTE_ADDR="10.9.9.9")
    response = client.post(reverse("login"), {"username": "member", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429


@pytest.mark.parametrize(
    "proxies, count, remote, forwarded, expected",
    [
        ([], 0, "10.0.0.5", "6.6.6.6", "10.0.0.5"),  # no proxy configured: the header is ignored
        ([], 1, "10.0.0.5", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # one hop: the entry the proxy wrote
        (["10.0.0.5"], 1, "10.0.0.9", "1.2.3.4", "10.0.0.9"),  # not from the proxy: ignored
        (["10.0.0.0/24"], 0, "10.0.0.5", "1.2.3.4, 10.0.0.7", "1.2.3.4"),  # skips our proxies
        ([], 1, "10.0.0.5", "not-an-address", "10.0.0.5"),  # garbage is never an address
        ([], 2, "10.0.0.5", "1.2.3.4", "1.2.3.4"),  # fewer hops than proxies: the furthest
    ],
)
def test_it_reads_the_client_address_only_from_a_trusted_proxy(settings, proxies, count, remote, forwarded, expected):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_COUNT = proxies, count
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# --- password reset throttle --------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_at_most_three_reset_emails_an_hour_and_says_the_same(client, member, settings):
    settings.PASSWORD_RESET_LIMIT = 3
    pages = [client.post(reverse("password_reset"), {"email": member.email}, follow=True) for _ in range(20)]
    assert len(mail.outbox) == 3
    assert {page.redirect_chain[-1][0] for page in pages} == {reverse("password_reset_done")}
    assert len({page.content for page in pages}) == 1
    # Another address asking for the same person still can.
    client.post(reverse("password_reset"), {"email": member.email}, REMOTE_ADDR="10.2.2.2")
    assert len(mail.outbox) == 4


# --- password strength --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["owenowenowen", "OwenJones2026", "aaaaaaaaaaaa"])
def test_it_refuses_guessable_passwords(weak):
    from django.contrib.auth.password_validation import validate_password

    owen = UserFactory(username="ojones", first_name="Owen", last_name="Jones", email="owen.jones@example.org")
    with pytest.raises(ValidationError, match="too easy to guess"):
        validate_password(weak, owen)
    validate_password("river-lantern-gossip-quay", owen)


# --- request body cap ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_a_body_over_the_limit_before_reading_it(client, settings):
    response = client.post(
        reverse("login"), data=b"x", content_type="application/octet-stream", CONTENT_LENGTH=str(300 * 1024 * 1024)
    )
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    response = client.post(reverse("login"), data=b"x", content_type="text/plain", CONTENT_LENGTH="many")
    assert response.status_code == 400


def test_it_reads_nothing_of_a_chunked_body_without_a_length():
    # A chunked body reaches the app with no Content-Length (gunicorn de-chunks it): Django
    # reads a body only up to its declared length, so none of this one, however long.
    from django.core.handlers.wsgi import WSGIRequest

    class Endless(io.RawIOBase):
        read_bytes = 0

        def readinto(self, buffer):
            buffer[:] = b"x" * len(buffer)
            self.read_bytes += len(buffer)
            return len(buffer)

    stream = Endless()
    request = WSGIRequest(
        {
            **RequestFactory()._base_environ(),
            "REQUEST_METHOD": "POST",
            "wsgi.input": stream,
            "CONTENT_TYPE": "text/plain",
        }
    )
    assert request.body == b"" and request.POST == {}
    assert stream.read_bytes == 0


# --- absolute session lifetime ------------------------------------------------------------


@pytest.mark.django_db
def test_it_ends_a_busy_session_after_its_absolute_lifetime(client, member, settings):
    settings.SESSION_ABSOLUTE_SECONDS = 3 * 60 * 60
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.post(reverse("login"), {"username": "member", "password": PASSWORD})
    # A request every half hour keeps the sliding expiry fresh...
    for half_hours in range(1, 6):
        with time_machine.travel(start + dt.timedelta(minutes=30 * half_hours), tick=False):
            assert client.get("/").status_code == 200
    # ...but three hours after signing in the session ends however active it is.
    with time_machine.travel(start + dt.timedelta(hours=3, seconds=1), tick=False):
        response = client.get("/")
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
        assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_busy_session_is_renewed_once_a_minute_not_written_on_every_request(client, member, settings):
    """The idle expiry slides, but the session row is written only when its last renewal is
    SESSION_REFRESH_SECONDS old: a page within that costs no write, and the idle limit
    counts from the last renewal, so it is exact to within those seconds."""
    settings.SESSION_COOKIE_AGE, settings.SESSION_REFRESH_SECONDS = 30 * 60, 60
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        client.post(reverse("login"), {"username": member.username, "password": PASSWORD})
    key = client.session.session_key

    def expires():
        return Session.objects.get(session_key=key).expire_date

    signed_in_expiry = expires()
    assert signed_in_expiry == start + dt.timedelta(minutes=30)
    with time_machine.travel(start + dt.timedelta(seconds=59), tick=False):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/")
        assert response.status_code == 200 and settings.SESSION_COOKIE_NAME not in response.cookies
        assert not [q for q in queries if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")]
    assert expires() == signed_in_expiry  # not renewed within the minute
    renewed = start + dt.timedelta(seconds=60)
    with time_machine.travel(renewed, tick=False):
        response = client.get("/")
        assert response.status_code == 200 and settings.SESSION_COOKIE_NAME in response.cookies
    assert expires() == renewed + dt.timedelta(minutes=30)
    # Requests within the next minute leave the expiry at the renewal's: idle from then, it ends.
    with time_machine.travel(renewed + dt.timedelta(seconds=50), tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(renewed + dt.timedelta(minutes=30, seconds=1), tick=False):
        response = client.get("/")
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- bidirectional controls ---------------------------------------------------------------


@pytest.mark.parametrize("control", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c"])
def test_it_strips_bidirectional_controls_inside_text(control):
    assert clean_text(f"Ops {control}txt.exe") == "Ops txt.exe"
    # A zero-width joiner inside an emoji is not a direction control: it stays.
    assert clean_text("a\u200db") == "a\u200db"


@pytest.mark.django_db
def test_it_stores_a_group_name_without_a_right_to_left_override(member):
    group = services.chatgroup_propose(name="Pay\u202eroll", purpose="Rota \u2066swaps\u2069", by=member)
    assert (group.name, group.purpose) == ("Payroll", "Rota swaps")


# --- replaced logos -----------------------------------------------------------------------


def _logo(colour: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("logo.png", small_png(colour), content_type="image/png")


@pytest.mark.django_db
def test_it_deletes_a_replaced_or_removed_logo_once_committed(
    member, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    group = services.chatgroup_propose(name="Ops", purpose="x", by=member, logo=_logo("navy"))
    first = tmp_path / group.logo.name
    assert first.exists()
    fields = {"name": "Ops", "purpose": "x", "cycle_weekday": group.cycle_weekday, "cycle_time": group.cycle_time}
    with django_capture_on_commit_callbacks(execute=True):
        group = services.chatgroup_update(group=group, by=member, logo=_logo("red"), **fields)
    second = tmp_path / group.logo.name
    assert second.exists() and not first.exists()
    with django_capture_on_commit_callbacks(execute=True):
        group = services.chatgroup_update(group=group, by=member, remove_logo=True, **fields)
    assert not second.exists()
    assert list(tmp_path.rglob("*.png")) == []
