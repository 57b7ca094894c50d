"""Disposal beside other work on PostgreSQL: two runs at once, and attestations chained while a
run disposes of old ones. The ledger must come out whole and nothing go twice."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from attestations import ledger, retention, services
from attestations.models import DisposalRecord, LedgerEntry, Obligation
from tests import factories
from tests.conftest import service_missing
from tests.retention.conftest import NOW, OLD, SCHEDULE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def old_attestations(settings):
    if connection.vendor != "postgresql":
        service_missing("concurrent disposal needs PostgreSQL (DATABASE_URL=postgres://…)")
    settings.RETENTION = dict(SCHEDULE)
    made = []
    for i in range(12):
        person = factories.UserFactory()
        cycle = factories.CycleFactory(period_end=OLD + dt.timedelta(days=i))
        obligation = factories.ObligationFactory(cycle=cycle, user=person)
        services.obligation_attest(
            obligations=[obligation],
            user=person,
            cleared_on=cycle.period_end.date(),
            confirmed_cleared=True,
            confirmed_saved=True,
            now=cycle.due_at,
        )
        made.append(obligation.pk)
    return made


def _in_threads(*targets) -> list[Exception]:
    barrier = threading.Barrier(len(targets))
    errors: list[Exception] = []

    def run(target):
        try:
            barrier.wait(timeout=10)
            target()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_two_runs_at_once_dispose_of_each_record_once(old_attestations):
    runs = []
    errors = _in_threads(
        lambda: runs.append(retention.retention_run(now=NOW, batch_size=2)),
        lambda: runs.append(retention.retention_run(now=NOW + dt.timedelta(seconds=1), batch_size=2)),
    )
    assert errors == []
    assert not Obligation.objects.filter(pk__in=old_attestations).exists()
    went = DisposalRecord.objects.filter(kind="clear_downs", dry_run=False)
    assert sum(r.details.get("obligations", 0) for r in went) == 12
    assert sum(r.details.get("ledger entries", 0) for r in went) == 12
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 0 and verdict.disposed == 12


def test_attestations_chained_during_a_disposal_keep_the_chain_whole(old_attestations):
    people = [factories.UserFactory() for _ in range(6)]
    # Weeks of this month (each its own, so only the ledger's lock queues them), attested on time.
    fresh = [
        factories.ObligationFactory(cycle=factories.CycleFactory(period_end=NOW - dt.timedelta(days=1)), user=p)
        for p in people
    ]

    def attester(obligation, person):
        return lambda: services.obligation_attest(
            obligations=[obligation.pk],
            user=person,
            cleared_on=obligation.cycle.period_end.date(),
            confirmed_cleared=True,
            confirmed_saved=True,
            now=obligation.cycle.due_at - dt.timedelta(hours=1),
        )

    errors = _in_threads(
        lambda: retention.retention_run(now=NOW, batch_size=1),
        *(attester(o, p) for o, p in zip(fresh, people, strict=True)),
    )
    assert errors == []
    assert list(LedgerEntry.objects.values_list("sequence", flat=True)) == list(range(13, 19))
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 6 and verdict.disposed == 12
