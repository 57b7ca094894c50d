"""The sign-in URLs with a provider configured, for every role: anyone may start a sign-in (a
signed-in person too, to switch account), a callback that did not come from a sign-in this
browser started signs nobody in, and neither URL takes a POST."""

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.django_db, pytest.mark.services]

ROLES = ("anonymous", "member", "admin_user", "dpo", "auditor", "outsider")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_start_a_sign_in_and_gets_nothing_from_a_bare_callback(request, client, oidc, role):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    start = client.get(reverse("oidc_authenticate"))
    assert start.status_code == 302 and start["Location"].startswith(oidc.issuer)
    assert client.get(reverse("oidc_callback")).status_code == 400
    forged = client.get(reverse("oidc_callback"), {"code": "made-up", "state": "made-up"})
    assert forged.status_code == 400
    assert client.post(reverse("oidc_authenticate")).status_code == 405
    assert client.post(reverse("oidc_callback")).status_code == 405
