"""The suite's clock: every run starts at its own instant of the week, printed and reproducible.

A test that reads the wall clock instead of freezing or travelling time passes at some hours of
the week and fails at others. So that such a test fails loudly on the first run that lands in its
bad hours, and again on demand, the whole run travels (time-machine, ticking) to an instant
chosen for it, in every pytest-xdist process alike:

- `TEST_CLOCK=2026-11-29T18:30` starts the clock there (UK time; give an offset, `+01:00` or
  `+00:00`, to pick one of the two 01:00-02:00 hours of the October clock-change night);
  `TEST_CLOCK=real` leaves the real clock alone;
- otherwise `TEST_CLOCK_SEED=12345` picks the instant from the seed;
- otherwise a seed is drawn at random.

The header of every run names the instant and the seed; a failed run repeats them at the end.

Tests that freeze or travel time with time-machine still do: their travel stacks on this one and
ends with the test. Things this travel cannot reach keep the real clock: PostgreSQL's `now()`
(the portal never uses it: every time comes from Django) and other processes (a `celery worker`
or a web server started as a subprocess, the browser). A test that shares work with such a
process is marked `@pytest.mark.real_clock`; it runs on the real clock and must set its own
fixed times wherever an answer depends on the hour.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
from zoneinfo import ZoneInfo

import pytest
import time_machine

UK = ZoneInfo("Europe/London")

# Each seed picks one of these fortnights (Monday 00:00 to Monday 00:00, UK time), then an instant
# in it, so every weekday and hour comes up, Sunday evening included, and so do both nights the
# clocks change.
REFERENCE_FORTNIGHTS = (
    dt.date(2026, 3, 23),  # clocks go forward on Sunday 29 March, 01:00 GMT -> 02:00 BST
    dt.date(2026, 10, 19),  # clocks go back on Sunday 25 October, 02:00 BST -> 01:00 GMT
    dt.date(2026, 11, 16),  # an ordinary fortnight in GMT, the weeks the tests' own dates are in
)

_STASH_KEY = pytest.StashKey[dict]()
_TRAVELLER_KEY = pytest.StashKey[time_machine.travel]()
_WORKER_INPUT = "test_clock"


def instant_for_seed(seed: int) -> dt.datetime:
    """The instant, to the minute, that `seed` stands for (an aware datetime in UK time)."""
    rng = random.Random(seed)
    monday = rng.choice(REFERENCE_FORTNIGHTS)
    # Counted in real minutes (UTC: arithmetic on two UK times would count wall-clock hours), so
    # the hour skipped in March never comes up and the hour repeated in October comes up twice.
    start = dt.datetime.combine(monday, dt.time(0, 0), tzinfo=UK).astimezone(dt.UTC)
    end = dt.datetime.combine(monday + dt.timedelta(days=14), dt.time(0, 0), tzinfo=UK).astimezone(dt.UTC)
    minutes = int((end - start).total_seconds()) // 60
    return (start + dt.timedelta(minutes=rng.randrange(minutes))).astimezone(UK)


def parse_instant(value: str) -> dt.datetime:
    """An ISO 8601 date and time; without an offset it is UK time."""
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        raise pytest.UsageError(
            f"TEST_CLOCK={value!r} is not a date and time: use e.g. TEST_CLOCK=2026-11-29T18:30"
            " (UK time), TEST_CLOCK=2026-10-25T01:30+00:00, or TEST_CLOCK=real"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UK)
    return instant.astimezone(UK)


def choose(environ=os.environ) -> dict:
    """Where this run's clock starts: {"instant": ISO text or None, "seed": int or None}."""
    value = environ.get("TEST_CLOCK", "").strip()
    if value.lower() == "real":
        return {"instant": None, "seed": None}
    if value:
        return {"instant": parse_instant(value).isoformat(), "seed": None}
    seed_text = environ.get("TEST_CLOCK_SEED", "").strip()
    if seed_text:
        try:
            seed = int(seed_text)
        except ValueError:
            raise pytest.UsageError(f"TEST_CLOCK_SEED={seed_text!r} is not a whole number") from None
    else:
        seed = secrets.randbelow(1_000_000)
    return {"instant": instant_for_seed(seed).isoformat(), "seed": seed}


def describe(choice: dict) -> str:
    if choice["instant"] is None:
        return "test clock: the real clock (TEST_CLOCK=real)"
    instant = dt.datetime.fromisoformat(choice["instant"]).astimezone(UK)
    shown = instant.strftime("%a %d %b %Y %H:%M %Z")
    again = f"TEST_CLOCK={instant.isoformat(timespec='minutes')}"
    if choice["seed"] is not None:
        return f"test clock: starts {shown}, seed {choice['seed']} (again: TEST_CLOCK_SEED={choice['seed']} or {again})"
    return f"test clock: starts {shown} (again: {again})"


# --- Hooks ------------------------------------------------------------------------------


def pytest_configure(config):
    worker_input = getattr(config, "workerinput", None)
    # A pytest-xdist worker takes the controller's choice, so every process starts at the same instant.
    config.stash[_STASH_KEY] = worker_input[_WORKER_INPUT] if worker_input else choose()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput[_WORKER_INPUT] = node.config.stash[_STASH_KEY]


def pytest_report_header(config):
    return describe(config.stash[_STASH_KEY])


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    # Started before collection, so nothing the tests do (imports included) sees the real clock.
    # The xdist controller runs no test: its own clock is left alone.
    config = session.config
    choice = config.stash[_STASH_KEY]
    if choice["instant"] is None or config.pluginmanager.has_plugin("dsession"):
        return
    traveller = time_machine.travel(dt.datetime.fromisoformat(choice["instant"]), tick=True)
    traveller.start()
    config.stash[_TRAVELLER_KEY] = traveller


@pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down, on the run's clock
def pytest_sessionfinish(session):
    traveller = session.config.stash.get(_TRAVELLER_KEY, None)
    if traveller is not None:
        traveller.stop()
        del session.config.stash[_TRAVELLER_KEY]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        terminalreporter.write_line(describe(config.stash[_STASH_KEY]))


@pytest.fixture(autouse=True)
def _real_clock_when_marked(request):
    """A `real_clock` test travels back to the real time for its duration."""
    if request.node.get_closest_marker("real_clock") is None or not time_machine.escape_hatch.is_travelling():
        yield
        return
    with time_machine.travel(time_machine.escape_hatch.time.time(), tick=True):
        yield
