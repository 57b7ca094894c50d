"""The tamper-evident ledger: intact, edited (each field it vouches for, and an entry rehashed to
match), deleted, reordered, payload versions, and concurrent appends."""

import datetime as dt
import hashlib
import json
import threading
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse

from attestations import ledger, services
from attestations.models import LedgerEntry, Obligation
from attestations.periods import LONDON
from tests import factories
from tests.audit.conftest import NOW
from tests.conftest import service_missing


def attest_in_more_groups(record, member, count: int, *, first: int = 0) -> None:
    """The member attests `count` more times, in as many more groups, through the service."""
    cycle = record.cycle
    extra = []
    for n in range(first, first + count):
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


@pytest.fixture
def chain(record, member):
    """Three more attestations by the member in three more groups: four entries in all."""
    attest_in_more_groups(record, member, 3)
    return list(LedgerEntry.objects.order_by("sequence"))


def _sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.django_db
def test_it_chains_each_attestation_when_it_is_made(chain, record):
    assert [e.sequence for e in chain] == [1, 2, 3, 4]
    assert chain[0].prev_hash == ledger.GENESIS and chain[0].obligation_id == record.attested.pk
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
    assert {e.payload_version for e in chain} == {ledger.PAYLOAD_VERSION}
    for entry in chain:
        digest = _recipe_hash(entry.obligation, sequence=entry.sequence, prev=entry.prev_hash, version=2)
        assert entry.hash == digest
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 4 and verdict.head == chain[-1].hash
    assert verdict.versions == {ledger.PAYLOAD_VERSION: 4}


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
    assert verdict == ledger.Verdict(
        ok=False,
        checked=3,
        head=chain[2].hash,
        sequence=4,
        obligation_id=chain[3].obligation_id,
        problem="an attestation on record has no ledger entry: its entry was deleted",
    )
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
    assert f"Ledger intact: 4 entries (4 with payload v{ledger.PAYLOAD_VERSION})" in capsys.readouterr().out
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
    # Each in a cycle of its own: the per-cycle count row would otherwise queue them by itself,
    # and the test would pass without the ledger's lock.
    obligations = [factories.ObligationFactory(cycle=factories.CycleFactory(), user=p) for p in people]
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
        # They are hashed with the first release's fields (payload version 1).
        obligation.refresh_from_db()
        payload = ledger.attestation_payload(obligation, version=1)
        digest = ledger.entry_hash(sequence=sequence, prev_hash=prev, payload=payload)
        assert (entry.sequence, entry.prev_hash, entry.hash, entry.payload_version) == (sequence, prev, digest, 1)
        prev = digest
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 9 and verdict.head == prev and verdict.versions == {1: 9}


# Every field of an attestation the ledger vouches for: each must be guarded by a test below.
VOUCHED_FOR = (
    "pk",
    "user_id",
    "cycle_id",
    "status",
    "cleared_on",
    "attested_at",
    "confirmed_cleared",
    "confirmed_saved",
    "channel",
    "due_at",
)


@contextmanager
def _check_constraints_off():
    """An insider with the database's rights can drop a check constraint; so can a test, inside
    its own transaction (rolled back at its end). SQLite can ignore them for a while instead."""
    table = Obligation._meta.db_table
    if connection.vendor == "postgresql":
        # Pending deferred checks would block ALTER TABLE: run them now.
        _sql("SET CONSTRAINTS ALL IMMEDIATE")
        with connection.cursor() as cursor:
            cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'", [table])
            for (name,) in cursor.fetchall():
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        yield
    else:
        _sql("PRAGMA ignore_check_constraints = ON")
        try:
            yield
        finally:
            _sql("PRAGMA ignore_check_constraints = OFF")


def _edit_behind_the_portals_back(obligation_id: int, field: str) -> int:
    """Change one field of an attestation with a plain UPDATE; return its id afterwards."""
    if field == "pk":
        # A different attestation number: the entry is pointed at it too, so only the number changes.
        new_id = Obligation.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
        Obligation.objects.filter(pk=obligation_id).update(id=new_id)
        LedgerEntry.objects.filter(obligation_id=obligation_id).update(obligation_id=new_id)
        return new_id
    obligation = Obligation.objects.get(pk=obligation_id)
    value = {
        "user_id": lambda: factories.UserFactory().pk,
        "cycle_id": lambda: factories.CycleFactory().pk,
        "status": lambda: "late" if obligation.status == "attested" else "attested",
        "cleared_on": lambda: obligation.cleared_on - dt.timedelta(days=1),
        "attested_at": lambda: obligation.attested_at + dt.timedelta(microseconds=1),
        "confirmed_cleared": lambda: False,
        "confirmed_saved": lambda: False,
        "channel": lambda: "email" if obligation.channel == "web" else "web",
        "due_at": lambda: obligation.due_at + dt.timedelta(hours=1),
    }[field]()
    with _check_constraints_off():
        Obligation.objects.filter(pk=obligation_id).update(**{field: value})
    return obligation_id


def test_every_field_the_ledger_vouches_for_has_a_tamper_test():
    assert ledger.PAYLOAD_FIELDS == VOUCHED_FOR


@pytest.mark.django_db
@pytest.mark.parametrize("field", VOUCHED_FOR)
def test_it_catches_an_edit_of_each_field_it_vouches_for(chain, field):
    target = chain[2]
    before = ledger.attestation_payload(Obligation.objects.get(pk=target.obligation_id))
    edited = _edit_behind_the_portals_back(target.obligation_id, field)
    after = ledger.attestation_payload(Obligation.objects.get(pk=edited))
    assert [key for key in before if before[key] != after[key]] != [], "the edit changed nothing"
    assert len([key for key in before if before[key] != after[key]]) == 1, "the edit changed more than the field"

    assert ledger.ledger_verify() == ledger.Verdict(
        ok=False,
        checked=2,
        head=chain[1].hash,
        sequence=3,
        obligation_id=edited,
        problem="its hash does not match the attestation: the attestation or the entry was edited",
    )


@pytest.mark.django_db
def test_only_the_link_check_catches_an_entry_rehashed_after_its_attestation_was_edited(chain, capsys):
    # An insider changes the date cleared of entry #3's attestation and recomputes that entry's
    # own hash, so entry #3 matches its attestation again: only entry #4's previous-hash, which
    # still holds the old hash, shows it.
    entry = chain[2]
    Obligation.objects.filter(pk=entry.obligation_id).update(cleared_on=dt.date(2026, 11, 9))
    payload = ledger.attestation_payload(Obligation.objects.get(pk=entry.obligation_id))
    rehashed = ledger.entry_hash(sequence=entry.sequence, prev_hash=entry.prev_hash, payload=payload)
    LedgerEntry.objects.filter(pk=entry.pk).update(hash=rehashed)

    verdict = ledger.ledger_verify()
    assert verdict.ok is False and (verdict.sequence, verdict.obligation_id, verdict.checked) == (
        4,
        chain[3].obligation_id,
        3,
    )
    assert verdict.problem.startswith("its previous-hash does not match the hash of entry #3")
    assert verdict.head == rehashed
    with pytest.raises(SystemExit):
        call_command("verify_ledger")
    assert f"BROKEN at entry #4 (obligation {chain[3].obligation_id})" in capsys.readouterr().err


def _recipe_hash(obligation: Obligation, *, sequence: int, prev: str, version: int) -> str:
    """An entry's hash in payload version 1 (the first release) or 2, written out here so that
    any change to how a version is hashed, which would break every entry already written with
    it, fails a test."""
    payload = {
        "obligation": obligation.pk,
        "user": obligation.user_id,
        "cycle": obligation.cycle_id,
        "status": obligation.status,
        "cleared_on": obligation.cleared_on.isoformat(),
        "attested_at": obligation.attested_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "confirmed_cleared": obligation.confirmed_cleared,
        "confirmed_saved": obligation.confirmed_saved,
        "channel": obligation.channel,
    }
    if version == 2:
        payload["due_at"] = obligation.due_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    body = json.dumps({"seq": sequence, "prev": prev, "att": payload}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


@pytest.mark.django_db
def test_a_ledger_begun_by_the_first_release_goes_on_with_version_2_and_verifies(record, member, clock, capsys):
    # The process's own zone as in the portal, where Django sets it to TIME_ZONE (time-machine
    # otherwise sets UTC): a time hashed in local rather than UTC time would then show.
    clock.move_to(NOW.astimezone(LONDON), tick=False)
    # Two attestations chained by the first release: version 1, no column named (the database's default).
    LedgerEntry.objects.all().delete()
    # One attested in summer time (BST) and to the microsecond: the old recipe hashed the time in UTC.
    summer = factories.obligation_in_state(
        cycle=record.cycle,
        user=factories.UserFactory(),
        state="on_time",
        attested_at=dt.datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=dt.UTC),
    )
    prev = ledger.GENESIS
    for sequence, obligation in enumerate([record.attested, summer], start=1):
        digest = _recipe_hash(obligation, sequence=sequence, prev=prev, version=1)
        LedgerEntry.objects.create(
            sequence=sequence, obligation=obligation, prev_hash=prev, hash=digest, recorded_at=obligation.attested_at
        )
        prev = digest
    # Then two attestations made by this release, chained onto them.
    attest_in_more_groups(record, member, 2)
    entries = list(LedgerEntry.objects.order_by("sequence"))
    assert [(e.sequence, e.payload_version) for e in entries] == [(1, 1), (2, 1), (3, 2), (4, 2)]
    assert entries[2].prev_hash == entries[1].hash

    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 4 and verdict.versions == {1: 2, 2: 2}
    call_command("verify_ledger")
    assert "Ledger intact: 4 entries (2 with payload v1, 2 with payload v2)" in capsys.readouterr().out

    # Version 1 never vouched for the deadline (the README says so); version 2 does.
    _edit_behind_the_portals_back(entries[0].obligation_id, "due_at")
    assert ledger.ledger_verify().ok
    _edit_behind_the_portals_back(entries[2].obligation_id, "due_at")
    verdict = ledger.ledger_verify()
    assert not verdict.ok and (verdict.sequence, verdict.obligation_id) == (3, entries[2].obligation_id)
    assert "hash does not match the attestation" in verdict.problem


@pytest.mark.django_db
@pytest.mark.parametrize(("version", "problem"), [(1, "hash does not match"), (9, "payload version 9 is unknown")])
def test_it_catches_an_entry_whose_payload_version_was_changed(chain, version, problem):
    # Setting a version 2 entry back to 1 would stop the deadline counting, were it not hashed.
    LedgerEntry.objects.filter(sequence=2).update(payload_version=version)
    verdict = ledger.ledger_verify()
    assert not verdict.ok and verdict.sequence == 2 and problem in verdict.problem


@pytest.mark.django_db(transaction=True)
def test_the_version_migration_keeps_an_existing_chain_as_version_1(clock):
    import importlib
    from types import SimpleNamespace

    from django.db.migrations.executor import MigrationExecutor

    before = [("attestations", "0009_hold_notices")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        # A database of the release before: attestations chained by its own migration (0005).
        # Obligations are written with that release's model: today's has columns it lacks.
        cycle = factories.CycleFactory()
        old_apps = executor.loader.project_state(before).apps
        OldObligation = old_apps.get_model("attestations", "Obligation")
        for n in range(3):
            attested_at = cycle.period_end + dt.timedelta(hours=n + 1)
            OldObligation.objects.create(
                cycle_id=cycle.pk,
                user_id=factories.UserFactory().pk,
                due_at=cycle.due_at,
                status="attested",
                attested_at=attested_at,
                cleared_on=attested_at.date(),
                confirmed_cleared=True,
                confirmed_saved=True,
                channel="web",
            )
        chain_0005 = importlib.import_module("attestations.migrations.0005_audit_ledger_exportlog")
        chain_0005.chain_existing_attestations(old_apps, SimpleNamespace(connection=connection))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert list(LedgerEntry.objects.values_list("payload_version", flat=True)) == [1, 1, 1]
    verdict = ledger.ledger_verify()
    assert verdict.ok and verdict.checked == 3 and verdict.versions == {1: 3}


@pytest.mark.django_db
def test_an_empty_ledger_is_intact_and_says_so(capsys):
    assert ledger.ledger_size() == {
        "count": 0,
        "head": None,
        "anchor": ledger.Anchor(count=0, hash=ledger.GENESIS),
        "checkpoints": [],
    }
    call_command("verify_ledger")
    assert f"Ledger intact: 0 entries (none), head {ledger.GENESIS}." in capsys.readouterr().out


@pytest.mark.django_db
def test_the_size_of_the_ledger_is_its_last_entry(chain):
    head = chain[-1]
    assert ledger.ledger_size() == {
        "count": 4,
        "head": {"sequence": 4, "hash": head.hash, "recorded_at": head.recorded_at},
        "anchor": ledger.Anchor(count=4, hash=head.hash),
        "checkpoints": [],
    }


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_chain_outside_the_attestations_transaction(clock):
    # In autocommit each entry would commit on its own, apart from the attestation it vouches for.
    obligation = factories.ObligationFactory()
    assert ledger.ledger_append(obligations=[]) == []
    with pytest.raises(RuntimeError, match="^ledger_append must run inside the attestation's transaction$"):
        ledger.ledger_append(obligations=[obligation])
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_each_entry_records_the_time_of_its_attestation_not_of_the_clock(clock):
    made_at = NOW - dt.timedelta(minutes=5)
    first, second = factories.ObligationFactory(), factories.ObligationFactory()
    [entry] = ledger.ledger_append(obligations=[first], now=made_at)
    assert entry.recorded_at == made_at
    [entry] = ledger.ledger_append(obligations=[second])  # no time given: the clock's
    assert entry.recorded_at == NOW


def test_a_payload_needs_exactly_the_fields_of_its_version():
    values = range(len(ledger.PAYLOAD_FIELDS_BY_VERSION[1]))
    with pytest.raises(ValueError, match="zip"):
        ledger.payload_of(*values, version=2)  # one short: the deadline is missing
