"""/metrics for a Prometheus scraper: off without METRICS_TOKEN, refused with a wrong token, and
with the right one a scrape that parses and whose figures are the database's."""

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from attestations import services
from attestations.models import Flag, SentEmail
from tests.factories import FlagFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "m" * 40
NOW = dt.datetime(2026, 11, 13, 17, 16, 30, tzinfo=dt.UTC)


@pytest.fixture
def on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client, token: str = TOKEN) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def email(status: str, n: int, prefix: str = "") -> None:
    sent_at = NOW if status == "sent" else None
    for i in range(n):
        SentEmail.objects.create(
            key=f"{prefix}{status}-{i}", kind="reminder", status=status, created_at=NOW, sent_at=sent_at
        )


def test_it_is_off_without_a_token(client, settings, dpo):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    client.force_login(dpo)
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"])
def test_a_missing_or_wrong_token_is_refused(on, client, dpo, header):
    client.force_login(dpo)  # a session, even the DPO's, is not the token
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 403
    assert b"portal_" not in response.content


def test_the_figures_are_the_databases(on, client, time_machine):
    time_machine.move_to(NOW, tick=False)
    email("pending", 3)
    email("failed", 2)
    email("sent", 4)
    FlagFactory.create_batch(2)
    FlagFactory(kind=Flag.Kind.PROMPT_MISSED)
    FlagFactory(resolved_at=NOW)  # resolved: not open
    services.heartbeat_record(name="worker", now=NOW - dt.timedelta(minutes=3))
    services.beat_tick_claim(task="sweep", every_minutes=15, now=NOW)  # 90 s after the 17:15 tick
    services.heartbeat_record(name="sweep", now=NOW + dt.timedelta(seconds=20))

    samples = scrape(client)
    assert samples[("portal_emails", (("status", "pending"),))] == 3
    assert samples[("portal_emails", (("status", "failed"),))] == 2
    assert samples[("portal_emails", (("status", "sent"),))] == 4
    assert samples[("portal_emails", (("status", "cancelled"),))] == 0
    assert samples[("portal_open_flags", (("kind", "member_overdue"),))] == 2
    assert samples[("portal_open_flags", (("kind", "prompt_missed"),))] == 1
    assert samples[("portal_last_sweep_timestamp_seconds", ())] == (NOW + dt.timedelta(seconds=20)).timestamp()
    assert samples[("portal_worker_last_seen_timestamp_seconds", ())] == (NOW - dt.timedelta(minutes=3)).timestamp()
    assert samples[("portal_beat_lag_seconds", ())] == 90
    assert samples[("portal_database_up", ())] == 1


def test_a_portal_never_swept_has_no_sweep_figures(on, client):
    samples = scrape(client)
    names = {name for name, _ in samples}
    assert "portal_emails" in names and "portal_open_flags" in names
    assert not names & {"portal_last_sweep_timestamp_seconds", "portal_beat_lag_seconds"}


def test_requests_are_counted_by_view_never_by_path(on, client):
    user = UserFactory()
    client.force_login(user)
    key = ("portal_http_requests_total", (("method", "GET"), ("status", "200"), ("view", "home")))
    before = scrape(client).get(key, 0)
    for _ in range(3):
        assert client.get("/").status_code == 200
    client.get("/groups/999999/")  # a 404 with an id in its path
    samples = scrape(client)
    assert samples[key] == before + 3
    assert samples[("portal_http_request_duration_seconds_count", (("view", "home"),))] >= 3
    labels = [dict(lbls) for name, lbls in samples if name == "portal_http_requests_total"]
    assert not any("999999" in value for entry in labels for value in entry.values())
    # Each scrape is counted too, as the metrics view.
    assert any(entry.get("view") == "metrics" for entry in labels)


def test_the_figures_are_read_in_a_fixed_number_of_queries(on, client, django_assert_num_queries):
    for size in (1, 20):
        email("pending", size, prefix=f"{size}-")
        email("failed", size, prefix=f"{size}-")
        FlagFactory.create_batch(size)
        with django_assert_num_queries(4):
            scrape(client)
