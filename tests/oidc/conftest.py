"""The tests' OpenID provider (tests/oidc_provider/), started once per test process, and the
portal configured to sign in through it."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import time_machine

from tests.conftest import service_missing

BASE_DIR = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT_SECONDS = 60
# Where the provider may send people back: the test client's host and the live servers on
# loopback (any port, RFC 8252).
REDIRECT_URIS = "http://testserver/oidc/callback/ http://127.0.0.1/oidc/callback/ http://localhost/oidc/callback/"
DPO_VALUE, AUDITOR_VALUE = "portal-dpo", "portal-auditor"


@dataclass
class Provider:
    url: str
    directory: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def person(self, username: str, **claims) -> dict:
        """Put someone in the provider's directory (or change their claims): their sub is
        `sub-<username>` unless given."""
        path = self.directory / "people.json"
        people = json.loads(path.read_text())
        people[username] = {"sub": f"sub-{username}", **claims}
        path.write_text(json.dumps(people))
        return people[username]

    def approve(self, authorize_url: str, username: str, password: str = "provider-password") -> str:
        """Sign in at the provider as a browser would and return the URL it sends the browser back to."""
        with requests.Session() as browser:
            login = browser.get(authorize_url, timeout=10)
            assert "/login/" in login.url, login.url
            answer = browser.post(
                login.url,
                data={
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                    "next": parse_qs(urlsplit(login.url).query)["next"][0],
                },
                headers={"Referer": login.url},
                allow_redirects=False,
                timeout=10,
            )
            assert answer.status_code == 302, answer.text[:500]
            back = browser.get(urljoin(login.url, answer.headers["Location"]), allow_redirects=False, timeout=10)
            assert back.status_code == 302, back.text[:500]
            return back.headers["Location"]


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    directory = tmp_path_factory.mktemp("oidc-provider")
    (directory / "people.json").write_text("{}")
    # The provider's clock runs with this process's (tests/clock.py travels it).
    offset = time.time() - time_machine.escape_hatch.time.time() if time_machine.escape_hatch.is_travelling() else 0
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        PROVIDER_DIR=str(directory),
        PROVIDER_REDIRECT_URIS=REDIRECT_URIS,
        PROVIDER_CLOCK_OFFSET=str(offset),
        PYTHONPATH=str(BASE_DIR),
    )
    errors = (directory / "stderr.txt").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.oidc_provider.serve"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    url = None
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while url is None and process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            line = process.stdout.readline()
            if line.startswith("READY "):
                url = line.split()[1]
    if url is None:
        process.kill()
        process.wait()
        errors.close()
        tail = (directory / "stderr.txt").read_text()[-2000:]
        service_missing(f"The tests' OpenID provider did not start: {tail or 'no output'}")
    try:
        yield Provider(url=url, directory=directory)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()


@pytest.fixture
def oidc(settings, oidc_provider):
    """The portal signing in through the tests' provider, as an office configures it."""
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = "portal"
    settings.OIDC_RP_CLIENT_SECRET = "portal-secret"
    settings.OIDC_PROVIDER_NAME = "Test Provider"
    settings.OIDC_LINK_BY = "email"
    settings.OIDC_TRUST_EMAIL = False
    settings.OIDC_CREATE_USERS = False
    settings.OIDC_ROLES_CLAIM = "roles"
    settings.OIDC_ROLE_VALUES = {"DPO": [DPO_VALUE], "Auditor": [AUDITOR_VALUE]}
    settings.SITE_URL = "http://testserver"
    return oidc_provider


@pytest.fixture
def sign_in_through_provider(client, oidc):
    """Start a sign-in on the portal, sign in at the provider as `username`, and return the
    portal's answer to the provider's redirect back (and the callback URL it came to)."""

    def sign_in(username: str, *, next_url: str = "", change_callback=None):
        start = client.get("/oidc/authenticate/" + (f"?next={next_url}" if next_url else ""))
        assert start.status_code == 302, start.content[:500]
        back = oidc.approve(start["Location"], username)
        if change_callback:
            back = change_callback(back)
        parts = urlsplit(back)
        assert parts.path == "/oidc/callback/", back
        return client.get(f"{parts.path}?{parts.query}"), back

    return sign_in
