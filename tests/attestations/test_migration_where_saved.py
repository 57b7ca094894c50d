"""The migration for issue 15 (where saved, the link's signed-out channel, calendar feeds)
keeps every attestation of an older database as it was."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from attestations.models import Obligation
from tests.factories import CycleFactory, UserFactory
from tests.migrate import migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("attestations", "0010_ledger_payload_version")]


def test_every_older_attestation_is_kept_with_an_empty_where_saved():
    apps = migrate_to(BEFORE)
    try:
        # Groups, users and cycles are unchanged by the migration; obligations are written
        # with the older model, which has no where_saved.
        cycle = CycleFactory()
        Old = apps.get_model("attestations", "Obligation")
        attested_at = cycle.period_end + dt.timedelta(hours=1)
        done = Old.objects.create(
            cycle_id=cycle.pk, user_id=UserFactory().pk, due_at=cycle.due_at, status="attested",
            attested_at=attested_at, cleared_on=attested_at.date(), confirmed_cleared=True,
            confirmed_saved=True, channel="email",
        )  # fmt: skip
        owed = Old.objects.create(cycle_id=cycle.pk, user_id=UserFactory().pk, due_at=cycle.due_at)
    finally:
        migrate_to()
    rows = {o.pk: o for o in Obligation.objects.filter(pk__in=[done.pk, owed.pk])}
    assert (rows[done.pk].status, rows[done.pk].channel, rows[done.pk].where_saved) == ("attested", "email", "")
    assert (rows[owed.pk].status, rows[owed.pk].where_saved) == ("pending", "")
    # The constraints now allow the signed-out channel, and where saved only on an attestation.
    Obligation.objects.filter(pk=done.pk).update(channel="email_anon", where_saved="Case 1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Obligation.objects.filter(pk=owed.pk).update(where_saved="Case 2")
    with pytest.raises(IntegrityError), transaction.atomic():
        Obligation.objects.filter(pk=done.pk).update(channel="pigeon")
