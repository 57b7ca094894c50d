"""Arbitrary input at every clear-down form and signed link: no server error, nothing saved on refusal."""

import datetime as dt

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.links import obligation_link_token
from attestations.models import Cycle, Flag, Hold, LedgerEntry, Obligation
from tests.attestations.conftest import PERIOD_END

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
text = st.text(max_size=2000)
anything = st.one_of(
    text,
    st.integers().map(str),
    st.dates().map(str),
    st.just(""),
    st.sampled_from(["0", "-1", "9" * 30, "on", "2026-02-30", "2026-11-14"]),
)
# Ids of any size: past 2**63 - 1 no database can hold them (SQLite cannot even bind them).
ids = st.lists(
    st.one_of(
        st.integers().map(str),
        st.integers(min_value=2**62, max_value=2**70).map(str),
        st.sampled_from([str(2**63 - 1), str(2**63), "9" * 23]),
        text,
    ),
    max_size=5,
)


def snapshot():
    return tuple(model.objects.count() for model in (Cycle, Flag, Hold, LedgerEntry)) + (
        Obligation.objects.exclude(status="pending").count(),
        Obligation.history.count(),
    )


def check(client, method, url, data=None):
    before = snapshot()
    response = client.post(url, data or {}) if method == "POST" else client.get(url, data or {})
    assert response.status_code in (200, 302, 400, 403, 404, 405), response.status_code
    if response.status_code != 302:
        assert snapshot() == before, "a refused request saved something"
    return response


@pytest.fixture(autouse=True)
def _after_the_period(at):
    at(PERIOD_END + dt.timedelta(hours=2))


@FUZZ
@given(obligations=ids, cleared_on=anything, saved=anything)
def test_it_survives_any_attestation(client, obligation, member, obligations, cleared_on, saved):
    client.force_login(member)
    check(
        client,
        "POST",
        reverse("home"),
        {"obligations": obligations, "cleared_on": cleared_on, "confirmed_saved": saved},
    )


@FUZZ
@given(token=text, tail=text, cleared_on=anything, cleared=anything, saved=anything)
def test_it_survives_any_signed_link(client, obligation, member, token, tail, cleared_on, cleared, saved):
    client.force_login(member)
    good = obligation_link_token(obligation)
    for candidate in (token.replace("/", "") or "x", good + tail.replace("/", ""), good[:-3] + "abc"):
        url = reverse("attestations:link", args=[candidate])
        check(client, "GET", url)
        data = {"cleared_on": cleared_on, "confirmed_cleared": cleared, "confirmed_saved": saved}
        response = check(client, "POST", url, data)
        if candidate != good:
            assert response.status_code != 302


@FUZZ
@given(reason=text, reference=text, pk=st.one_of(st.integers(min_value=-1), st.integers(min_value=2**62)))
def test_it_survives_any_excuse_or_hold(client, obligation, dpo, reason, reference, pk):
    client.force_login(dpo)
    response = check(client, "POST", reverse("attestations:excuse", args=[obligation.pk]), {"reason": reason})
    if response.status_code == 302:  # undo, for the next example
        Obligation.objects.filter(pk=obligation.pk).update(
            status="pending", excused_by=None, excused_at=None, excuse_reason=""
        )
    # Written out rather than reversed: a negative id matches no route (404), as it should.
    check(client, "POST", f"/clear-downs/obligations/{pk}/excuse/", {"reason": reason})
    group = obligation.cycle.group_id
    response = check(
        client, "POST", reverse("attestations:hold_place", args=[group]), {"reference": reference, "reason": reason}
    )
    if response.status_code == 302:
        hold = Hold.objects.get(group_id=group, lifted_at__isnull=True)
        check(client, "POST", reverse("attestations:hold_lift", args=[hold.pk]), {"reason": reason})
        Hold.objects.filter(pk=hold.pk).update(lifted_at=hold.placed_at, lifted_by=dpo, lift_reason="x")
        Obligation.objects.filter(pk=obligation.pk).update(status="pending")
