"""Fixtures of the staff lifecycle tests (R14): the clear-down tests' frozen week and eager Celery."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from attestations import services
from tests.attestations.conftest import BASE, DUE, PERIOD_END, at, clock, eager_celery, utc  # noqa: F401 - fixtures
from tests.factories import MembershipFactory, UserFactory
from tests.notifications.conftest import sweep_at  # noqa: F401 - a fixture

SCIM_TOKEN = "s" * 40


@pytest.fixture
def deputy(group):
    person = UserFactory(username="deputy", first_name="Dee", last_name="Puty")
    MembershipFactory(group=group, user=person)
    group.deputy = person
    group.save()
    return person


@pytest.fixture
def closed_week(group, member, admin_user, at):  # noqa: F811 - `at` is the imported fixture
    """The group's week of 6–13 November closed: its admin and member owe a clear-down."""
    at(PERIOD_END + dt.timedelta(minutes=1))
    services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=1))
    return group.cycles.get()


@pytest.fixture
def scim(client, settings):
    """A SCIM client with the directory's token."""
    settings.SCIM_TOKEN = SCIM_TOKEN

    class Scim:
        headers = {"Authorization": f"Bearer {SCIM_TOKEN}"}

        def call(self, method: str, path: str, body=None, **headers):
            kwargs = {"headers": {**self.headers, **headers}}
            if body is not None:
                kwargs["data"] = json.dumps(body)
                kwargs["content_type"] = "application/scim+json"
            return getattr(client, method.lower())(f"/scim/v2/{path}", **kwargs)

    return Scim()
