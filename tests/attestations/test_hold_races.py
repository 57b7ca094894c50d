"""A hold placed while a cycle closes, on the real PostgreSQL: the new cycle is held (R9)."""

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection, connections

from attestations import periods, services
from attestations.models import Cycle, Obligation
from tests.attestations.conftest import PERIOD_END
from tests.conftest import service_missing

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_hold_placed_while_the_close_runs_holds_the_cycle_it_creates(group, member, dpo):
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL for concurrent transactions (set DATABASE_URL)")
    now = PERIOD_END + dt.timedelta(minutes=5)
    groups_read, hold_done = threading.Event(), threading.Event()
    errors = []
    last_ended_period = periods.last_ended_period

    def paused(**kwargs):
        # The closer has read the groups, and no hold yet: the DPO places one now. Without
        # the shared lock it commits at once and the close then creates an unheld cycle.
        groups_read.set()
        hold_done.wait(timeout=2)
        return last_ended_period(**kwargs)

    def close():
        try:
            services.cycle_close_due(now=now)
        except Exception as exc:  # noqa: BLE001 - any error is a failure of the test
            errors.append(exc)
        finally:
            connections.close_all()

    def hold():
        try:
            assert groups_read.wait(timeout=10)
            services.hold_place(group=group, by=dpo, reference="FOI-2026-0042", reason="Request", now=now)
            hold_done.set()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    with mock.patch.object(periods, "last_ended_period", paused):
        threads = [threading.Thread(target=close), threading.Thread(target=hold)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    cycle = Cycle.objects.get(group=group)
    assert cycle.hold is not None and cycle.hold.reference == "FOI-2026-0042"
    assert set(Obligation.objects.filter(cycle=cycle).values_list("status", flat=True)) == {"held"}
