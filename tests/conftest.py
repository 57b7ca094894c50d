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


@pytest.fixture
def login_page(live_server, page):
    """Sign a user in through the real login form and return the page."""

    def sign_in(user, password: str = factories.PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        return page

    return sign_in
