"""The force-size data builder, at a small size: valid data whose counts the triggers kept."""

import pytest
from django.core.management import call_command

from attestations.dashboard import counts
from attestations.models import Cycle, CycleCount, Flag, Obligation
from groups.models import ChatGroup

pytestmark = pytest.mark.django_db(transaction=True)  # it ends with VACUUM ANALYZE on PostgreSQL


def test_it_builds_a_small_force_whose_counts_and_flag_groups_agree():
    call_command("seed_scale", staff=60, groups=4, weeks=6, stdout=None)
    assert ChatGroup.objects.count() == 4 and Obligation.objects.exists() and Flag.objects.exists()
    assert CycleCount.objects.count() == Cycle.objects.count()
    assert counts.cycle_counts_check() == []
    assert counts.flag_groups_check() == []
