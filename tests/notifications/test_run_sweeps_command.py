import io

import pytest
from django.core.management import CommandError, call_command

from attestations.models import Cycle, SentEmail

pytestmark = pytest.mark.django_db


def test_it_runs_the_whole_schedule_by_hand_at_a_given_time(group, dpo, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    out = io.StringIO()
    call_command("run_sweeps", "--now", "2026-11-13T17:30", stdout=out)
    assert "1 cycle(s) closed" in out.getvalue()
    assert "1 weekly summary email(s) queued" in out.getvalue()
    assert Cycle.objects.get().group == group
    assert SentEmail.objects.get(kind="dpo_summary").user == dpo
    out = io.StringIO()
    call_command("run_sweeps", "--now", "2026-11-13T17:45", stdout=out)
    assert "0 cycle(s) closed, 0 flag(s) raised" in out.getvalue()
    assert "0 weekly summary email(s) queued" in out.getvalue()  # once a week per DPO


def test_it_refuses_a_malformed_time():
    with pytest.raises(CommandError, match="not an ISO 8601"):
        call_command("run_sweeps", "--now", "next friday")
