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
# The sentence each confirm button stands for (R6): saving first, then clearing.
DECLARATION = "I saved any business information from"


@pytest.fixture(autouse=True)
def clock(time_machine):
    # Start the clock just after the period ended, and let it run.
    time_machine.move_to(PERIOD_END + dt.timedelta(minutes=5), tick=True)
    return time_machine


def close_the_week() -> list:
    return services.cycle_close_due(now=PERIOD_END + dt.timedelta(minutes=1)).cycles
