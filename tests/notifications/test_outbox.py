"""The outbox's backstop: the database keeps at most one live (pending or sent) email per key.

The sweeps' claims stop duplicates first; these tests take the claims away and write the rows
directly, so that only the constraint `sentemail_one_live_per_key` stands between a second
sweep and a second email. They run on whichever database the suite uses (SQLite by default,
PostgreSQL in CI).
"""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from attestations.models import SentEmail

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)
KEY = "reminder:obligation:42"


def email(status: str) -> SentEmail:
    return SentEmail.objects.create(
        key=KEY,
        kind=SentEmail.Kind.REMINDER,
        to_address="member@example.org",
        created_at=WHEN,
        status=status,
        sent_at=WHEN if status == SentEmail.Status.SENT else None,
    )


@pytest.mark.parametrize("first", ["pending", "sent"])
@pytest.mark.parametrize("second", ["pending", "sent"])
def test_the_database_refuses_a_second_live_email_with_the_same_key(first, second):
    email(first)
    with pytest.raises(IntegrityError), transaction.atomic():
        email(second)
    assert list(SentEmail.objects.filter(key=KEY).values_list("status", flat=True)) == [first]


@pytest.mark.parametrize("ended", ["failed", "cancelled"])
def test_an_email_that_failed_or_was_cancelled_frees_its_key(ended):
    email(ended)
    email(ended)  # several dead ones may share a key
    email("pending")
    assert SentEmail.objects.filter(key=KEY).count() == 3
