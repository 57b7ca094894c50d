"""Who may open the audit pages: the DPO and auditors read; nobody writes; others get 403."""

import pytest
from django.urls import reverse

URLS = [
    reverse("audit:history"),
    reverse("audit:exports"),
    reverse("audit:export_log"),
    reverse("audit:foi_pack"),
    reverse("audit:ledger"),
    reverse("audit:retention"),
    reverse("audit:export", args=["register", "csv"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_it_sends_the_anonymous_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("who", ["member", "outsider", "admin_user"])
def test_it_refuses_members_outsiders_and_group_admins(client, group, request, url, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(url).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("who", ["dpo", "auditor"])
def test_it_lets_the_dpo_and_auditors_read(client, group, request, url, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url)
    assert response.status_code == 200
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_it_refuses_every_post_from_an_auditor(client, auditor, url):
    client.force_login(auditor)
    assert client.post(url, {"verify": "1"}).status_code == 403


@pytest.mark.django_db
def test_it_shows_the_audit_menu_link_only_to_the_dpo_and_auditors(client, dpo, auditor, member):
    for user, shown in [(dpo, True), (auditor, True), (member, False)]:
        client.force_login(user)
        html = client.get(reverse("groups:register")).content.decode()
        assert (f'href="{reverse("audit:history")}"' in html) is shown


@pytest.mark.django_db
def test_it_shows_an_auditor_only_their_own_exports_and_the_dpo_all(client, dpo, auditor):
    from attestations.audit.exports import export_log_start
    from attestations.audit.history import Filters

    mine = export_log_start(user=auditor, kind="register", fmt="csv", filters=Filters())
    theirs = export_log_start(user=dpo, kind="flags", fmt="csv", filters=Filters())
    client.force_login(auditor)
    assert client.get(reverse("audit:export_detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("audit:export_detail", args=[theirs.pk])).status_code == 404
    client.force_login(dpo)
    assert client.get(reverse("audit:export_detail", args=[mine.pk])).status_code == 200
    assert "Amir Khan" in client.get(reverse("audit:export_log")).content.decode()
