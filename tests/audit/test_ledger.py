"""The tamper-evident ledger: intact, edited, deleted, reordered, and concurrent appends."""

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse

from attestations import ledger, services
from attestations.models import LedgerEntry, Obligation
from tests import factories
from tests.conftest import service_missing


@pytest.fixture
def chain(record, member):
    """Three more attestations by the member in three more groups: four entries in all."""
    cycle = record.cycle
    extra = []
    for n in range(3):
        group = factories.ChatGroupFactory(name=f"Team {n}")
        other = factories.CycleFactory(
            group=group,
            period_end=cycle.period_end,
            period_start=cycle.period_start,
            prompt_due_at=cycle.prompt_due_at,
            due_at=cycle.due_at,
        )
        extra.append(factories.ObligationFactory(cycle=other, user=member))
    for obligation in extra:
        services.obligation_attest(
            obligations=[obligation],
            user=member,
            cleared_on=dt.date(2026, 11, 10),
            confirmed_cleared=True,
            confirmed_saved=True,
        )
    return list(LedgerEntry.objects.order_by("sequence"))


def _sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.django_db
def test_it_chains_each_attestation_when_it_is_made(chain, record):
    assert [e.sequence for e in chain] == [1, 2, 3, 4]
    assert chain[0].prev_hash == ledger.GENESIS and chain[0].obligation_id == record.attested.pk
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 4 and verdict.head == chain[-1].hash


@pytest.mark.django_db
def test_a_second_submit_adds_no_entry(chain, record, member):
    services.obligation_attest(
        obligations=[record.attested],
        user=member,
        cleared_on=dt.date(2026, 11, 10),
        confirmed_cleared=True,
        confirmed_saved=True,
    )
    assert LedgerEntry.objects.count() == 4


@pytest.mark.django_db
def test_it_catches_an_attestation_edited_behind_the_portals_back(chain):
    _sql(
        f"UPDATE {Obligation._meta.db_table} SET cleared_on = %s WHERE id = %s",
        [dt.date(2026, 11, 9), chain[2].obligation_id],
    )
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.sequence == 3 and verdict.checked == 2
    assert "hash does not match" in verdict.problem


@pytest.mark.django_db
def test_it_catches_an_edited_entry(chain):
    _sql(f"UPDATE {LedgerEntry._meta.db_table} SET hash = %s WHERE sequence = 2", ["f" * 64])
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.sequence == 2


@pytest.mark.django_db
def test_it_catches_a_deleted_entry_in_the_middle_and_at_the_end(chain):
    _sql(f"DELETE FROM {LedgerEntry._meta.db_table} WHERE sequence = 4")
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.obligation_id == chain[3].obligation_id and "no ledger entry" in verdict.problem
    _sql(f"DELETE FROM {LedgerEntry._meta.db_table} WHERE sequence = 2")
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.sequence == 2 and "missing" in verdict.problem


@pytest.mark.django_db
def test_it_catches_reordered_entries(chain):
    table = LedgerEntry._meta.db_table
    _sql(f"UPDATE {table} SET sequence = 100 WHERE sequence = 2")
    _sql(f"UPDATE {table} SET sequence = 2 WHERE sequence = 3")
    _sql(f"UPDATE {table} SET sequence = 3 WHERE sequence = 100")
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.sequence == 2


@pytest.mark.django_db
def test_verify_ledger_reports_and_exits_non_zero_when_broken(chain, capsys):
    call_command("verify_ledger")
    assert "Ledger intact: 4 entries" in capsys.readouterr().out
    _sql(f"UPDATE {Obligation._meta.db_table} SET channel = 'email' WHERE id = %s", [chain[0].obligation_id])
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_ledger")
    assert exit_info.value.code == 1
    assert "BROKEN at entry #1" in capsys.readouterr().err


@pytest.mark.django_db
def test_the_ledger_page_checks_the_chain_for_auditors(client, auditor, chain):
    client.force_login(auditor)
    html = client.get(reverse("audit:ledger")).content.decode()
    assert "The chain holds 4 entries" in html and "intact" not in html
    html = client.get(reverse("audit:ledger"), {"verify": "1"}).content.decode()
    assert "The ledger is intact" in html and chain[-1].hash in html
    _sql(f"UPDATE {Obligation._meta.db_table} SET channel = 'email' WHERE id = %s", [chain[1].obligation_id])
    html = client.get(reverse("audit:ledger"), {"verify": "1"}).content.decode()
    assert "broken at entry #2" in html


@pytest.mark.django_db(transaction=True)
def test_concurrent_attestations_never_fork_the_chain():
    if connection.vendor != "postgresql":
        service_missing("concurrent appends need PostgreSQL (DATABASE_URL=postgres://…)")
    threads_n = 8
    people = [factories.UserFactory() for _ in range(threads_n)]
    cycle = factories.CycleFactory()
    obligations = [factories.ObligationFactory(cycle=cycle, user=p) for p in people]
    barrier = threading.Barrier(threads_n)
    errors = []

    def attest(obligation, person):
        try:
            barrier.wait(timeout=10)
            services.obligation_attest(
                obligations=[obligation.pk],
                user=person,
                cleared_on=dt.date.today(),
                confirmed_cleared=True,
                confirmed_saved=True,
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attest, args=pair) for pair in zip(obligations, people, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    entries = list(LedgerEntry.objects.order_by("sequence"))
    assert [e.sequence for e in entries] == list(range(1, threads_n + 1))
    assert len({e.prev_hash for e in entries}) == threads_n
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == threads_n


@pytest.mark.django_db
def test_the_migration_chains_earlier_attestations_in_the_order_they_were_made(record, monkeypatch):
    import importlib
    from types import SimpleNamespace

    from django.apps import apps

    migration = importlib.import_module("attestations.migrations.0005_audit_ledger_exportlog")
    monkeypatch.setattr(migration, "CHAIN_CHUNK", 3)  # several chunks of entries
    cycle = record.cycle
    made = [
        factories.obligation_in_state(
            cycle=cycle,
            user=factories.UserFactory(),
            state="on_time" if n % 2 else "late",
            # Out of pk order, and with and without fractions of a second.
            attested_at=cycle.due_at + dt.timedelta(minutes=(-1 if n % 2 else 1) * (10 - n), microseconds=n * 7),
        )
        for n in range(8)
    ]
    LedgerEntry.objects.all().delete()  # as before the ledger existed
    # The function uses only the schema editor's connection (SQLite's editor cannot open
    # inside the test's transaction).
    migration.chain_existing_attestations(apps, SimpleNamespace(connection=connection))

    attested = sorted([record.attested, *made], key=lambda o: (o.attested_at, o.pk))
    entries = list(LedgerEntry.objects.order_by("sequence"))
    assert [e.obligation_id for e in entries] == [o.pk for o in attested]
    prev = ledger.GENESIS
    for sequence, (entry, obligation) in enumerate(zip(entries, attested, strict=True), start=1):
        # The hash of each entry is the one the portal computes from the model instance.
        obligation.refresh_from_db()
        digest = ledger.entry_hash(sequence=sequence, prev_hash=prev, payload=ledger.attestation_payload(obligation))
        assert (entry.sequence, entry.prev_hash, entry.hash) == (sequence, prev, digest)
        prev = digest
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 9 and verdict.head == prev
