"""Shared fixtures: the people of every view test, real services and the browser.

Tests that need a real service (PostgreSQL, Redis, SMTP, Chromium) skip with a reason
when it is missing, except when REQUIRE_SERVICES=1 (CI), where a missing service fails.
"""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest  # noqa: E402

from tests import factories  # noqa: E402

# Every run starts its clock at an instant of the week chosen for it (see tests/clock.py).
pytest_plugins = ["tests.clock"]

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def service_missing(reason: str) -> None:
    """Skip on a laptop without the service; fail in CI, where it must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (REQUIRE_SERVICES is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    # The production hasher is slow on purpose; tests create hundreds of accounts.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _no_stray_sessions_at_teardown(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end the sessions other threads left open on it
    (the live server's, a worker thread's): PostgreSQL refuses to drop a database in use.
    Set up after `django_db_setup`, so torn down before it."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _roles_survive_the_flush(request, django_db_blocker):
    # A transactional test ends by emptying every table, the roles of the data migrations
    # included: put them back before the next test that uses the database.
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db", "live_server"} & set(
        request.fixturenames
    )
    if not uses_db:
        return
    request.getfixturevalue("django_db_setup")
    from django.contrib.auth.models import Group as Role

    with django_db_blocker.unblock():
        if not Role.objects.filter(name="DPO").exists():
            factories.ensure_roles()


# --- People --------------------------------------------------------------------------


@pytest.fixture
def member(db):
    return factories.UserFactory(username="member", first_name="Morgan", last_name="Lee")


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(username="groupadmin", first_name="Grace", last_name="Adeyemi")


@pytest.fixture
def outsider(db):
    return factories.UserFactory(username="outsider", first_name="Olly", last_name="Stone")


@pytest.fixture
def dpo(db):
    return factories.dpo_user(username="dpo", first_name="Dana", last_name="Price")


@pytest.fixture
def auditor(db):
    return factories.auditor_user(username="auditor", first_name="Amir", last_name="Khan")


@pytest.fixture
def group(db, admin_user, member):
    """An approved group run by `admin_user` with `member` in it."""
    chat_group = factories.ChatGroupFactory(name="Urgent Ops", admin=admin_user)
    factories.MembershipFactory(group=chat_group, user=member)
    return chat_group


@pytest.fixture
def proposal(db, admin_user):
    return factories.ChatGroupFactory(name="New Idea", admin=admin_user, status="proposed")


# --- Browser -------------------------------------------------------------------------


def _chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and os.path.exists(path) else None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = _chromium_path()
    if not path:
        service_missing("Chromium is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": path,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # UK users: dates, date inputs and screenshots in British format and UK time.
    return {**browser_context_args, "locale": "en-GB", "timezone_id": "Europe/London"}


@pytest.fixture
def login_page(live_server, page):
    """Sign a user in through the real login form and return the page."""

    def sign_in(user, password: str = factories.PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        # The page signed in to, with its stylesheets: a test that measures it measures it styled.
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.wait_for_load_state("load")
        return page

    return sign_in


# --- Real Celery worker and real SMTP server ------------------------------------------


@pytest.fixture(scope="session")
def celery_queue(tmp_path_factory):
    """A queue of this test process's own, so parallel test workers never take each other's tasks.

    The folder broker keeps its exchange bindings in one shared file, which parallel
    processes would overwrite; so each test process gets folders of its own as well.
    """
    from opcc_portal.celery import app

    if app.conf.broker_url.startswith("filesystem://"):
        base = tmp_path_factory.mktemp("celery-broker")
        folders = {key: base / key for key in ("queue", "processed", "control")}
        for folder in folders.values():
            folder.mkdir()
        app.conf.broker_transport_options = {
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
            "store_processed": False,
        }
        # Connections made before this point used the shared folders: start new pools.
        app._pool = None
        app.amqp._producer_pool = None
    name = f"tests-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}"
    app.conf.task_default_queue = name
    app.amqp.queues.select_add(name)
    return name


@pytest.fixture
def celery_worker(transactional_db, celery_queue, settings):
    """A real Celery worker, in a thread, on the configured broker (Redis in CI).

    Tasks run against the real test database, so tests using it need committed data
    (`transactional_db`).
    """
    from celery.contrib.testing.worker import start_worker

    from opcc_portal.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means the broker is unusable
        service_missing(f"Celery broker {settings.CELERY_BROKER_URL!r} is unreachable: {exc}")
    with start_worker(app, pool="solo", queues=[celery_queue], perform_ping_check=False, shutdown_timeout=20) as worker:
        yield worker


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback (aiosmtpd). Email settings point at it; messages land in `.messages`."""
    import asyncio
    import email
    import socket
    import threading
    from email import policy

    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []
            self.envelopes = []
            self.stalled = self.released = None
            self.deliver_stalled = False
            self.refused = {}  # address -> the reply to its RCPT TO, e.g. "550 No such user"
            self.data_replies = []  # replies to the next DATA commands, instead of accepting

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in self.refused:
                return self.refused[address]
            envelope.rcpt_tos.append(address)
            return "250 OK"

        def stall_next(self, *, deliver: bool = False):
            """Hold the next message at DATA, unanswered, until `released` is set; it is not
            delivered. `stalled` is set once a client is waiting there. With `deliver`, the
            server takes the message first and holds only its "250" reply: a client that dies
            meanwhile never learns that the message was delivered."""
            self.stalled, self.released = threading.Event(), threading.Event()
            self.deliver_stalled = deliver

        def keep(self, envelope):
            self.envelopes.append(envelope)
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))

        async def handle_DATA(self, server, session, envelope):
            if self.stalled is not None and not self.stalled.is_set():
                if self.deliver_stalled:
                    self.keep(envelope)
                self.stalled.set()
                await asyncio.to_thread(self.released.wait, 60)
                if self.deliver_stalled:
                    return "250 Message accepted for delivery"
                return "451 Not delivered: the server held this message"
            if self.data_replies:
                return self.data_replies.pop(0)
            self.keep(envelope)
            return "250 Message accepted for delivery"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    inbox.port = port
    try:
        yield inbox
    finally:
        if inbox.released is not None:
            inbox.released.set()
        controller.stop()


def wait_for(condition, timeout: float = 15.0, interval: float = 0.05):
    """Poll until `condition()` is truthy (work done by a real worker arrives asynchronously)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# --- Accessibility -------------------------------------------------------------------

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="session")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.fixture
def assert_accessible(axe):
    """Run axe-core on the page: no violation of WCAG 2.0, 2.1 or 2.2 at levels A and AA,
    no sideways scrolling and exactly one h1.

    Wait for what the page should show after a click before calling it: a scan that starts
    while the next page is still loading has no document to read.
    """

    def check(page, label: str = ""):
        options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
        page.wait_for_load_state("load")
        results = axe.run(page, options=options)
        assert results.violations_count == 0, f"{label or page.url}\n{results.generate_report()}"
        headings = page.locator("h1").all_inner_texts()
        assert len(headings) == 1, f"{label or page.url}: one h1 expected, found {headings}"
        width = page.evaluate("document.documentElement.scrollWidth")
        viewport = page.viewport_size["width"]
        assert width <= viewport, f"{label or page.url}: {width}px wide in a {viewport}px viewport"

    return check


def visit_and_scan(page, assert_accessible, base_url: str, paths, heading: str = "h1") -> None:
    """Open each path in turn and scan it once its main heading is there."""
    from playwright.sync_api import expect

    for path in paths:
        page.goto(f"{base_url}{path}")
        expect(page.locator(heading).first).to_be_visible()
        assert_accessible(page, path)


def small_png(colour: str = "navy", size: int = 64) -> bytes:
    """A real PNG, as a logo upload."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


# --- Keyboard only ------------------------------------------------------------------

# A focus ring is an outline or a box shadow on the focused element (WCAG 2.4.7).
_FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (el === document.body) { return {ring: true}; }  // past the last stop, on the way round
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return {ring: outline || style.boxShadow !== "none", html: el.outerHTML.slice(0, 200)};
}"""


def assert_focus_visible(page) -> None:
    state = page.evaluate(_FOCUS_STATE)
    assert state["ring"], f"no visible focus ring on {state['html']}"


def tab_to(page, target, *, max_presses: int = 80, key: str = "Tab") -> None:
    """Press Tab until `target` (a locator) has the focus; every stop on the way must show its focus."""
    element = target.element_handle()
    # A page reached at a `#main` URL moves the focus to <main> once it has loaded, undoing any
    # press made before then. Seen often when the tests' clock is weeks away from the browser's
    # (tests/clock.py), so wait for the load first.
    page.wait_for_load_state("load")
    for _ in range(max_presses):
        page.keyboard.press(key)
        assert_focus_visible(page)
        if element.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} not reached in {max_presses} presses of {key}")


def assert_skip_link_first(page, url: str | None = None) -> None:
    """On a freshly loaded page the first Tab stop is the skip link, shown, and Enter moves focus to <main>.

    With `url`, load it first: a page reached by a redirect after the skip link was used
    keeps the `#main` fragment, so its focus already starts in the main content.
    """
    from playwright.sync_api import expect

    if url:
        page.goto(url)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    assert page.locator("h1").count() == 1


def keyboard_activate(page, target, key: str = "Enter") -> None:
    tab_to(page, target)
    page.keyboard.press(key)


def keyboard_select(page, select, label: str, max_presses: int = 20) -> None:
    """Tab to a <select> and move through its options with the arrow keys until `label` is chosen."""
    tab_to(page, select)
    for _ in range(max_presses):
        if select.evaluate("s => s.options[s.selectedIndex].text.trim()") == label:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"option {label!r} not reached with the arrow keys")


@pytest.fixture
def keyboard_login(live_server, page):
    """Sign in with the keyboard alone, after checking the login page's skip link."""
    from playwright.sync_api import expect

    def sign_in(user, password: str = factories.PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert_skip_link_first(page)
        tab_to(page, page.get_by_label("Username"))  # the first stop in the main content
        page.keyboard.type(user.username)
        tab_to(page, page.get_by_label("Password"))
        page.keyboard.type(password)
        page.keyboard.press("Enter")
        return page

    return sign_in


def run_at_once(*calls, timeout: float = 60) -> list:
    """Start every call in its own thread at the same instant; return "ok" or the exception of each.

    Each thread has its own database connection (closed at the end), so on PostgreSQL the
    calls really are concurrent transactions.
    """
    import threading

    from django.db import connections

    barrier = threading.Barrier(len(calls))
    outcomes = []

    def run(call):
        try:
            barrier.wait()
            call()
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - the caller decides which failures are expected
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttles count in the cache (password-reset emails): each test starts with none spent.
    from django.core.cache import cache

    cache.clear()
