"""Subject access (UK GDPR Art. 15): one zip of CSV files with every kind of record about one
person, nothing about anyone else, streamed, formula-safe and logged."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile

import pytest
from axes.models import AccessLog
from django.urls import reverse
from django.utils import timezone

from attestations import calendar, hold_notices, services
from attestations.audit import subject_access
from attestations.models import ExportLog, Obligation, SentEmail
from groups import policy
from groups.models import ExternalIdentity, Membership, RoleChange, StaffProfile
from opcc_portal.lib.history import save_with_history
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def rows_of_every_kind(key: str, *, dpo, number: int) -> dict:
    """A person with at least one row of every kind the file holds; the strings that are theirs."""
    person = factories.UserFactory(
        username=key, first_name=key.capitalize(), last_name=f"{key.capitalize()}son", email=f"{key}@example.org"
    )
    group = factories.ChatGroupFactory(name=f"{key.capitalize()} Ops", admin=person)
    someone = factories.UserFactory(username=f"{key}-colleague", first_name="Colleague", last_name=f"Of{key}")
    colleague = Membership(group=group, user=someone, joined_at=timezone.now() - dt.timedelta(days=5))
    save_with_history(colleague, by=person, reason="Member added")  # a change made by the person
    StaffProfile.objects.create(user=person, staff_number=f"S-{key}")
    ExternalIdentity.objects.create(
        user=person, issuer="https://login.example.org", subject=f"sub-{key}", linked_at=timezone.now(),
        linked_by=ExternalIdentity.LinkedBy.EMAIL,
    )  # fmt: skip
    RoleChange.objects.create(
        user=person, role="Auditor", action="granted", by=dpo, at=timezone.now(), reason=f"=cmd|' /C calc'!{key}"
    )
    cycle = factories.CycleFactory(group=group, period_end=NOW - dt.timedelta(days=1))
    owed = factories.ObligationFactory(cycle=cycle, user=person)
    services.obligation_attest(
        obligations=[owed], user=person, cleared_on=NOW.date(), confirmed_cleared=True, confirmed_saved=True, now=NOW
    )
    earlier = factories.CycleFactory(group=group, period_end=NOW - dt.timedelta(days=8))
    factories.ObligationFactory(
        cycle=earlier, user=person, status=Obligation.Status.EXCUSED, excused_by=dpo,
        excused_at=NOW - dt.timedelta(days=7), excuse_reason=f"Leave of {key}",
    )  # fmt: skip
    factories.FlagFactory(cycle=earlier, user=person)
    hold_notices.hold_place(group=group, by=dpo, reference=f"FOI-{key}", reason="FOI request", now=NOW, queue=False)
    SentEmail.objects.create(
        key=f"prompt-{key}", kind=SentEmail.Kind.PROMPT, user=person, to_address=person.email,
        subject=f"Clear {key} chat", group=group, created_at=NOW,
    )  # fmt: skip
    ExportLog.objects.create(user=person, kind="register", format="csv", filters={"group": group.pk}, started_at=NOW)
    calendar.calendar_feed_create(user=person)
    version = factories.policy_version(number=f"{number}.0", by=dpo, title=f"Policy for {key}")
    policy.policy_acknowledge(version=version, user=person, now=NOW)
    AccessLog.objects.create(
        username=key, ip_address=f"10.0.0.{number}", user_agent=f"{key}-browser", path_info="/accounts/login/",
        attempt_time=NOW,
    )  # fmt: skip
    return {
        "person": person,
        "strings": [
            key, person.email, person.last_name, group.name, f"S-{key}", f"sub-{key}", f"FOI-{key}",
            f"Clear {key} chat", f"Policy for {key}", f"10.0.0.{number}", f"{key}-browser", f"Leave of {key}",
        ],
    }  # fmt: skip


@pytest.fixture
def two_people(clock):
    dpo = factories.dpo_user(username="dana", first_name="Dana", last_name="Price")
    return dpo, rows_of_every_kind("alice", dpo=dpo, number=1), rows_of_every_kind("bob", dpo=dpo, number=2)


def files_of(body: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return {name: zf.read(name).decode("utf-8-sig") for name in zf.namelist()}


def table(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_file_holds_every_kind_about_the_person_and_nothing_about_anyone_else(client, two_people):
    dpo, alice, bob = two_people
    client.force_login(dpo)
    response = client.get(reverse("audit:subject_access_file", args=[alice["person"].pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response.streaming
    body = b"".join(response.streaming_content)
    files = files_of(body)
    assert set(files) == {f"{kind.key}.csv" for kind in subject_access.KINDS} | {"contents.txt"}
    for kind in subject_access.KINDS:
        rows = table(files[f"{kind.key}.csv"])
        assert rows, f"{kind.key}.csv has no row about alice"
        assert list(rows[0]) == kind.headers
    everything = "\n".join(files.values())
    for text in alice["strings"]:
        assert text in everything, text
    for text in bob["strings"]:
        assert text.casefold() not in everything.casefold(), text
    [profile] = table(files["profile.csv"])
    assert (profile["username"], profile["email"], profile["staff_number"]) == ("alice", "alice@example.org", "S-alice")
    [attested] = [r for r in table(files["clear_downs.csv"]) if r["status"] == "attested"]
    assert len(attested["ledger_hash"]) == 64 and attested["cleared_on"] == "2026-11-20"
    [excused] = [r for r in table(files["clear_downs.csv"]) if r["status"] == "excused"]
    assert excused["excused_by"] == "Dana Price"  # who acted for the office, on the person's record
    [change] = table(files["role_changes.csv"])
    assert change["reason"] == "'=cmd|' /C calc'!alice" and change["by"] == "Dana Price"  # formula-safe
    by_you = table(files["history_by_you.csv"])
    assert {r["record"] for r in by_you} >= {"membership", "clear-down"}
    assert "Ofalice" not in everything  # what they changed, not whose record it was
    assert "alice.csv: " not in files["contents.txt"] and "clear_downs.csv: " in files["contents.txt"]
    assert "Everything the clear-down portal holds about Alice Aliceson (alice)" in files["contents.txt"]
    feed = alice["person"].calendar_feed
    assert feed.token not in everything  # the feed's secret address stays out of the file


def test_the_download_is_logged_with_its_hash(client, two_people):
    dpo, alice, bob = two_people
    client.force_login(dpo)
    response = client.get(reverse("audit:subject_access_file", args=[alice["person"].pk]))
    body = b"".join(response.streaming_content)
    log = ExportLog.objects.get(pk=response["X-Export-Log"])
    assert (log.user, log.kind, log.format) == (dpo, "subject-access", "zip")
    assert log.filters == {"person": alice["person"].pk, "username": "alice"}
    assert log.sha256 == hashlib.sha256(body).hexdigest() and log.size == len(body)
    total = sum(len(table(text)) for name, text in files_of(body).items() if name.endswith(".csv"))
    assert log.rows == total
    # The DPO's own file then lists that export, without naming whose record it was.
    response = client.get(reverse("audit:subject_access_file", args=[dpo.pk]))
    exports = table(files_of(b"".join(response.streaming_content))["exports.csv"])
    # Alice's, and this one (logged when it started).
    sars = [r["filters"] for r in exports if r["kind"] == "subject-access"]
    assert sars == ["person=withheld (another person)"] * 2


def test_the_query_count_does_not_grow_with_the_record(two_people, django_assert_num_queries):
    dpo, alice, bob = two_people
    person = alice["person"]

    def build() -> bytes:
        log = ExportLog.objects.create(user=dpo, kind="subject-access", format="zip", started_at=NOW)
        return b"".join(subject_access.subject_access_zip(person=person, made_by=dpo, log=log))

    build()
    with django_assert_num_queries(35) as small:
        build()
    group = person.administered_groups.get()
    for weeks in range(2, 40):
        cycle = factories.CycleFactory(group=group, period_end=NOW - dt.timedelta(days=7 * weeks + 1))
        factories.ObligationFactory(cycle=cycle, user=person, status=Obligation.Status.HELD)
    with django_assert_num_queries(len(small.captured_queries)):
        body = build()
    assert len(table(files_of(body)["clear_downs.csv"])) == 40


def test_the_zip_is_written_as_it_goes(two_people):
    dpo, alice, bob = two_people
    log = ExportLog.objects.create(user=dpo, kind="subject-access", format="zip", started_at=NOW)
    pieces = list(subject_access.subject_access_zip(person=alice["person"], made_by=dpo, log=log))
    # At least a piece per file: nothing waits for the whole file to be built.
    assert len(pieces) > len(subject_access.KINDS)
    log.refresh_from_db()
    assert log.finished_at is not None


def test_the_dpo_finds_a_person_by_name_or_email(client, two_people):
    dpo, alice, bob = two_people
    client.force_login(dpo)
    html = client.get(reverse("audit:subject_access"), {"q": "example.org aliceson"}).content.decode()
    assert "alice@example.org" in html and "bob@example.org" not in html
    assert reverse("audit:subject_access_file", args=[alice["person"].pk]) in html
    bob["person"].is_active = False
    bob["person"].save()
    html = client.get(reverse("audit:subject_access"), {"q": "BOB"}).content.decode()
    assert "bob@example.org; account closed" in html
    html = client.get(reverse("audit:subject_access"), {"q": "nobody-at-all"}).content.decode()
    assert "Nobody matches" in html


@pytest.mark.parametrize("role", ["auditor", "member"])
def test_only_the_dpo_answers_subject_access(client, two_people, role, auditor, member):
    dpo, alice, bob = two_people
    client.force_login(auditor if role == "auditor" else member)
    assert client.get(reverse("audit:subject_access")).status_code == 403
    assert client.get(reverse("audit:subject_access_file", args=[alice["person"].pk])).status_code == 403
    assert not ExportLog.objects.filter(kind="subject-access").exists()
