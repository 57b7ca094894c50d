"""Twenty submits of the same attestation at once, on the real PostgreSQL: exactly one record."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from attestations import services
from attestations.models import LedgerEntry, Obligation
from tests.conftest import service_missing

pytestmark = pytest.mark.django_db(transaction=True)

PERIOD_END = dt.datetime(2026, 11, 13, 17, tzinfo=dt.UTC)


def test_twenty_simultaneous_submits_make_exactly_one_attestation(group, member):
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL for concurrent transactions (set DATABASE_URL)")
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=5))
    obligation = Obligation.objects.get(user=member)
    barrier = threading.Barrier(20)
    recorded, already, errors = [], [], []

    def submit():
        try:
            barrier.wait()
            result = services.obligation_attest(
                obligations=[obligation.pk],
                user=member,
                cleared_on=dt.date(2026, 11, 14),
                confirmed_cleared=True,
                confirmed_saved=True,
                now=PERIOD_END + dt.timedelta(days=1),
            )
            recorded.extend(result.recorded)
            already.extend(result.already_done)
        except Exception as exc:  # noqa: BLE001 - any error is a failure of the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(recorded) == 1 and len(already) == 19
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.ATTESTED
    assert obligation.history.filter(status="attested").count() == 1
    assert LedgerEntry.objects.filter(obligation=obligation).count() == 1
