"""The force-size data builder, at a small size: valid data whose counts the triggers kept."""

import pytest
from django.core.management import call_command

from attestations.dashboard import counts
from attestations.models import Cycle, CycleCount, Flag, Hold, LedgerEntry, Obligation, SentEmail
from groups.models import ChatGroup

pytestmark = pytest.mark.django_db(transaction=True)  # it ends with VACUUM ANALYZE on PostgreSQL


def test_it_builds_a_small_force_whose_counts_and_flag_groups_agree():
    # Thirty groups: enough for the seed's holds (placed and lifted), so every table it writes is
    # written, and a column added to a model without a value here fails this test.
    call_command("seed_scale", staff=300, groups=30, weeks=6, stdout=None)
    assert ChatGroup.objects.count() == 30 and Obligation.objects.exists() and Flag.objects.exists()
    assert Hold.objects.filter(lifted_at__isnull=False).exists() and Hold.objects.filter(lifted_at=None).exists()
    assert SentEmail.objects.exists() and LedgerEntry.objects.exists()
    assert CycleCount.objects.count() == Cycle.objects.count()
    assert counts.cycle_counts_check() == []
    assert counts.flag_groups_check() == []
