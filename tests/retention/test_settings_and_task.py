"""The schedule's settings (read strictly from the environment) and the nightly task."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from attestations.models import DisposalRecord, Obligation
from attestations.notifications import tasks
from opcc_portal.celery import app
from tests.test_portal import SETUP, run_python


def _retention(**env) -> str:
    result = run_python(SETUP + "; from django.conf import settings; print(settings.RETENTION)", DEBUG="true", **env)
    return result.stdout + result.stderr


def test_the_defaults_are_the_documented_ones():
    assert "'clear_downs': 1095, 'emails': 365, 'flags': 730, 'holds': 2190, 'register_history': None" in _retention()


def test_a_period_is_days_or_keep():
    out = _retention(RETENTION_CLEAR_DOWNS_DAYS="keep", RETENTION_SIGN_INS_DAYS="90")
    assert "'clear_downs': None" in out and "'sign_ins': 90" in out


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"RETENTION_EMAILS_DAYS": "a year"},
            "RETENTION_EMAILS_DAYS must be a number of days or \"keep\", not 'a year'.",
        ),
        ({"RETENTION_FLAGS_DAYS": "0"}, 'RETENTION_FLAGS_DAYS must be at least 1 day (or "keep"), not 0.'),
        ({"RETENTION_EMAILS_DAYS": "2000"}, "RETENTION_EMAILS_DAYS must not be longer than RETENTION_CLEAR_DOWNS_DAYS"),
        ({"RETENTION_FLAGS_DAYS": "keep"}, "RETENTION_FLAGS_DAYS must not be longer than RETENTION_CLEAR_DOWNS_DAYS"),
    ],
)
def test_a_bad_period_stops_start_up_naming_the_setting(env, message):
    assert f"ImproperlyConfigured: {message}" in _retention(**env)


def test_beat_runs_the_task_nightly_by_its_name():
    entry = django_settings.CELERY_BEAT_SCHEDULE["retention"]
    assert entry["task"] == "attestations.tasks.retention" and entry["task"] in app.tasks
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {40}


@pytest.mark.django_db
def test_the_task_disposes_or_only_records_when_disposal_is_off(world, settings):
    settings.RETENTION_DISPOSE = False
    assert tasks.dispose_of_expired_records() > 0
    assert DisposalRecord.objects.filter(dry_run=True).exists() and not DisposalRecord.objects.filter(dry_run=False)
    before = Obligation.objects.count()
    settings.RETENTION_DISPOSE = True
    assert tasks.dispose_of_expired_records() > 0
    assert Obligation.objects.count() == before - 5
