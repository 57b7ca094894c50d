"""What the clear-down browser tests share: a running clock and the week they attest.

Import `clock` into a browser test module to replace the frozen clock of the clear-down
tests: the browser and the live server need time to pass.
"""

import datetime as dt

import pytest

from attestations import services
from tests.attestations.conftest import PERIOD_END
from tests.conftest import VIEWPORTS

PHONE = VIEWPORTS["phone"]
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
CONFIRMATION = "I have cleared all messages in Urgent Ops for Fri 6 Nov to Fri 13 Nov 2026"
SAVED = "Before clearing, I saved"


@pytest.fixture(autouse=True)
def clock(time_machine):
    # Start the clock just after the period ended, and let it run.
    time_machine.move_to(PERIOD_END + dt.timedelta(minutes=5), tick=True)
    return time_machine


def close_the_week() -> list:
    return services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=1)).cycles
