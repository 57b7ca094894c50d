"""The policy's pages (R15): one tap from home, the DPO's drafting and publishing, the PDF,
the dashboard by group and person with its CSV, the group's pending adds, the audit."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from groups import policy
from groups.models import PolicyAcknowledgement, PolicyVersion
from tests.factories import ChatGroupFactory, MembershipFactory, UserFactory, policy_version

pytestmark = pytest.mark.django_db

UK = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 6, 2, 10, 0, tzinfo=UK)  # BST
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def version(dpo, group):
    return policy_version(number="2.0", by=dpo, title="OPCC WhatsApp Policy", changes="Groups only.")


def test_a_member_acknowledges_in_one_tap_from_home_and_a_second_tap_changes_nothing(client, member, version):
    client.force_login(member)
    home = client.get(reverse("home")).content.decode()
    assert "I have read and will follow version 2.0" in home and "Please read it by Tue 16 Jun 2026, 10:00" in home
    response = client.post(reverse("policy:acknowledge", args=[version.pk]), follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Thank you: you acknowledged version 2.0" in html and "I have read and will follow" not in html
    again = client.post(reverse("policy:acknowledge", args=[version.pk]), follow=True).content.decode()
    assert "You had already acknowledged version 2.0, on 2 June 2026." in again
    assert PolicyAcknowledgement.objects.filter(user=member, acknowledged_at__isnull=False).count() == 1
    page = client.get(reverse("policy:detail", args=[version.pk])).content.decode()
    assert "You acknowledged this version on 2 June 2026, 10:00." in page


def test_the_acknowledgement_needs_the_csrf_token(member, version):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(reverse("policy:acknowledge", args=[version.pk])).status_code == 403
    assert not PolicyAcknowledgement.objects.filter(user=member, acknowledged_at__isnull=False).exists()


def test_someone_in_no_group_is_not_asked_on_home_but_may_read_the_policy(client, outsider, version):
    client.force_login(outsider)
    assert "I have read and will follow" not in client.get(reverse("home")).content.decode()
    page = client.get(reverse("policy:versions")).content.decode()
    assert "Current version: 2.0" in page and "Draft a new version" not in page


def test_the_dpo_drafts_checks_and_publishes_a_version_then_it_is_locked(client, dpo, group, member):
    client.force_login(dpo)
    form = {
        "title": "OPCC WhatsApp Policy",
        "number": "2.0",
        "effective_on": "2026-06-02",
        "changes": "Groups only.",
        "text": "",
        "pdf": SimpleUploadedFile("policy.pdf", PDF, "application/pdf"),
    }
    response = client.post(reverse("policy:new"), form, follow=True)
    version = PolicyVersion.objects.get()
    assert response.redirect_chain[-1][0] == reverse("policy:detail", args=[version.pk])
    assert "saved as a draft" in response.content.decode()
    member_client = Client()
    member_client.force_login(member)
    assert member_client.get(reverse("policy:detail", args=[version.pk])).status_code == 404  # a draft
    assert member_client.get(reverse("policy:pdf", args=[version.pk])).status_code == 404
    published = client.post(reverse("policy:publish", args=[version.pk]), follow=True).content.decode()
    assert "Version 2.0 is published." in published
    assert PolicyAcknowledgement.objects.filter(version=version).count() == 2  # the admin and the member
    locked = client.get(reverse("policy:edit", args=[version.pk]), follow=True).content.decode()
    assert "can no longer be changed" in locked
    pdf = member_client.get(reverse("policy:pdf", args=[version.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf["X-Content-Type-Options"] == "nosniff"
    assert b"".join(pdf.streaming_content) == PDF


def test_a_refused_draft_keeps_what_was_typed_and_says_why(client, dpo):
    client.force_login(dpo)
    form = {"title": "Draft", "number": "3.0", "effective_on": "2026-07-01", "changes": "More.", "text": ""}
    form["pdf"] = SimpleUploadedFile("policy.pdf", b"not a pdf", "application/pdf")
    html = client.post(reverse("policy:new"), form).content.decode()
    assert "There is a problem" in html and "The file must be a PDF document." in html
    assert 'value="Draft"' in html and not PolicyVersion.objects.exists()


def test_the_dashboard_shows_acknowledgement_by_group_and_person_with_a_drill_down_and_csv(
    client, dpo, group, member, admin_user, version
):
    policy.policy_acknowledge(version=version, user=member)
    client.force_login(dpo)
    html = client.get(reverse("dashboard:policy")).content.decode()
    assert "Who has acknowledged policy version 2.0" in html
    assert "1 of 2 memberships acknowledged; 0 overdue." in html
    drill = client.get(reverse("dashboard:policy_group", args=[group.pk]), {"status": "pending"}).content.decode()
    assert "Grace Adeyemi" in drill and "Morgan Lee" not in drill
    response = client.get(reverse("dashboard:policy_csv"))
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0].startswith("Version,Person,Username,Email,Groups,Status")
    assert any(row.startswith("2.0,Morgan Lee,member,") and "Acknowledged" in row for row in rows)
    # A group admin sees only the groups they run.
    other = ChatGroupFactory(name="Elsewhere")
    client.force_login(other.admin)
    scoped = client.get(reverse("dashboard:policy")).content.decode()
    assert "Elsewhere" in scoped and "Urgent Ops" not in scoped and "Morgan Lee" not in scoped
    assert client.get(reverse("dashboard:policy_group", args=[group.pk])).status_code == 404


@pytest.mark.parametrize("name", ["dashboard:policy", "home", "policy:versions"])
def test_the_pages_run_the_same_queries_for_few_and_many_people(client, dpo, group, version, name):
    def grow(n):
        for _ in range(n):
            person = UserFactory()
            MembershipFactory(group=group, user=person)
            MembershipFactory(group=ChatGroupFactory(), user=person)
        policy.policy_acks_ensure()

    client.force_login(dpo)
    MembershipFactory(group=group, user=dpo)
    counts = []
    for n in (2, 20):
        grow(n)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(name)).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


def test_with_ack_before_joining_the_admins_add_shows_pending_acknowledgement(
    client, admin_user, group, version, settings
):
    settings.POLICY_ACK_BEFORE_JOINING = True
    newcomer = UserFactory(username="newcomer", first_name="Nia", last_name="Newcomer")
    client.force_login(admin_user)
    response = client.post(reverse("groups:member_add", args=[group.pk]), {"user": newcomer.pk}, follow=True)
    html = response.content.decode()
    assert "Pending acknowledgement: Nia Newcomer will join Urgent Ops once they have acknowledged" in html
    assert "Waiting to join (1)" in html and "Members (2)" in html
    newcomer_client = Client()
    newcomer_client.force_login(newcomer)
    newcomer_client.post(reverse("policy:acknowledge", args=[version.pk]))
    page = client.get(reverse("groups:detail", args=[group.pk])).content.decode()
    assert "Waiting to join" not in page and "Members (3)" in page and "Nia Newcomer" in page


def test_publications_and_acknowledgements_are_in_the_audit_history_and_exports(client, auditor, member, version):
    policy.policy_acknowledge(version=version, user=member)
    client.force_login(auditor)
    page = client.get(reverse("audit:history"), {"kind": "policy_ack"})
    entries = page.context["page"].object_list
    assert any(e["reason"] == "Acknowledged version 2.0" and e["who"] == "Morgan Lee" for e in entries)
    versions = client.get(reverse("audit:history"), {"kind": "policy_version"}).context["page"].object_list
    assert [e["object_id"] for e in versions] == [version.pk]
    export = client.get(reverse("audit:export", args=["policy_acks", "csv"]))
    body = b"".join(export.streaming_content).decode()
    assert "acknowledgement_id,version,version_title,username" in body and ",2.0,OPCC WhatsApp Policy,member," in body
    export = client.get(reverse("audit:export", args=["policy_versions", "csv"]))
    assert ",2.0,OPCC WhatsApp Policy," in b"".join(export.streaming_content).decode()


def test_a_version_with_a_missing_pdf_file_is_a_clear_404(client, member, dpo):
    version = policy_version(number="1.0", by=dpo, pdf=ContentFile(PDF, name="p.pdf"))
    version.pdf.storage.delete(version.pdf.name)
    client.force_login(member)
    assert client.get(reverse("policy:pdf", args=[version.pk])).status_code == 404
