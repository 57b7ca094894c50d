"""The legal pages' settings are read strictly: a malformed value stops start-up, by name."""

import pytest

from tests.test_portal import SETUP, run_python

PRINT = SETUP + "; from django.conf import settings as s; print(repr((s.DPO_EMAIL, s.LEGAL_REVIEWED_ON, s.DPO_NAME)))"


def test_it_reads_the_office_details_from_the_environment():
    result = run_python(
        PRINT, DEBUG="true", DPO_EMAIL=" dpo@office.example ", LEGAL_REVIEWED_ON="2026-11-02", DPO_NAME="Priya Patel"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "('dpo@office.example', datetime.date(2026, 11, 2), 'Priya Patel')"


def test_unset_details_are_empty_not_invented():
    result = run_python(PRINT, DEBUG="true", DPO_EMAIL="", LEGAL_REVIEWED_ON="", DPO_NAME="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "('', None, '')"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DPO_EMAIL", "dpo at office", "DPO_EMAIL must be an email address, not 'dpo at office'."),
        ("ACCESSIBILITY_CONTACT_EMAIL", "nobody@", "ACCESSIBILITY_CONTACT_EMAIL must be an email address"),
        ("LEGAL_REVIEWED_ON", "02/11/2026", "LEGAL_REVIEWED_ON must be a date as YYYY-MM-DD, not '02/11/2026'."),
        ("LEGAL_PREPARED_ON", "2026-02-30", "LEGAL_PREPARED_ON must be a date as YYYY-MM-DD"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(variable, value, message):
    result = run_python(SETUP, DEBUG="true", **{variable: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


def test_a_review_before_the_page_was_prepared_stops_start_up():
    result = run_python(SETUP, DEBUG="true", LEGAL_PREPARED_ON="2026-11-02", LEGAL_REVIEWED_ON="2026-11-01")
    assert result.returncode != 0
    assert "ImproperlyConfigured: LEGAL_REVIEWED_ON must not be before LEGAL_PREPARED_ON" in result.stderr
