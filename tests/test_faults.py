"""Faults on the real PostgreSQL: a connection that drops mid-request leaves nothing half written."""

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse

from attestations import services
from attestations.models import Obligation
from groups.models import ChatGroup, Membership
from tests.conftest import service_missing

pytestmark = pytest.mark.django_db(transaction=True)

PERIOD_END = dt.datetime(2026, 11, 13, 17, tzinfo=dt.UTC)  # a Friday, 17:00 GMT


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL to drop a live connection (set DATABASE_URL)")


def drop_connection_before(prefix: str):
    """A database hook that kills this session's own backend just before a matching write."""

    def hook(execute, sql, params, many, context):
        if sql.startswith(prefix):
            with context["connection"].connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return execute(sql, params, many, context)

    return hook


def test_an_attestation_cut_off_half_way_saves_nothing(client, group, member, time_machine):
    time_machine.move_to(PERIOD_END + dt.timedelta(hours=1), tick=False)
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=5))
    obligation = Obligation.objects.get(user=member)
    client.force_login(member)
    client.raise_request_exception = False
    data = {"obligations": [obligation.pk], "cleared_on": "2026-11-13", "confirmed_saved": "on"}
    # The obligation row is updated first; the connection drops when its history row is written.
    with connection.execute_wrapper(drop_connection_before('INSERT INTO "attestations_historicalobligation"')):
        response = client.post(reverse("home"), data)
    assert response.status_code == 500
    assert "Nothing you submitted was half-saved" in response.content.decode()
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.PENDING and obligation.attested_at is None
    assert obligation.history.count() == 1  # only its creation
    # The member simply tries again, and it works.
    response = client.post(reverse("home"), data)
    assert response.status_code == 302
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.ATTESTED


def test_a_membership_change_cut_off_half_way_saves_nothing(client, group, admin_user):
    from tests.factories import UserFactory

    person = UserFactory()
    client.force_login(admin_user)
    client.raise_request_exception = False
    with connection.execute_wrapper(drop_connection_before('INSERT INTO "groups_historicalmembership"')):
        response = client.post(reverse("groups:member_add", args=[group.pk]), {"user": person.pk})
    assert response.status_code == 500
    assert not Membership.objects.filter(group=group, user=person).exists()
    assert ChatGroup.objects.get(pk=group.pk).history.count() == 1
