"""Behind a reverse proxy: a real nginx on loopback in front of the live server.

nginx connects to the portal from 127.0.0.2 (the trusted proxy) and appends the client's
address to X-Forwarded-For; the people in these tests connect from other loopback
addresses, so each has an address of their own as they would on a network.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import subprocess
import time
from urllib.parse import urlencode, urlsplit

import pytest
from axes.models import AccessAttempt

from tests.conftest import service_missing
from tests.factories import PASSWORD

# /usr/sbin is not on every PATH.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
PROXY_ADDRESS = "127.0.0.2"
ATTACKER = "127.0.0.3"
DPO_DESK = "127.0.0.4"

CONFIG = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 2m;
        location / {{
            proxy_pass {upstream};
            proxy_bind {proxy_address};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def nginx(live_server, tmp_path):
    """nginx proxying to the live server; yields the port it listens on."""
    if NGINX is None:
        service_missing("nginx is not installed (apt-get install nginx)")
    port = _free_port()
    config = tmp_path / "nginx.conf"
    config.write_text(CONFIG.format(tmp=tmp_path, port=port, upstream=live_server.url, proxy_address=PROXY_ADDRESS))
    process = subprocess.Popen([NGINX, "-c", str(config), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nginx did not start: {(tmp_path / 'error.log').read_text()}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


class Browser:
    """A person at one address: keeps cookies, signs in with the form and its CSRF token."""

    def __init__(self, port: int, source: str, *, forwarded_for: str | None = None):
        self.port, self.source, self.forwarded_for = port, source, forwarded_for
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20, source_address=(self.source, 0))
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        text = response.read().decode()
        connection.close()
        return response.status, text

    def sign_in(self, username: str, password: str) -> int:
        _, page = self.request("GET", "/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, _ = self.request(
            "POST", "/accounts/login/", {"csrfmiddlewaretoken": token, "username": username, "password": password}
        )
        return status


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [PROXY_ADDRESS]
    settings.AXES_FAILURE_LIMIT = 3


def test_it_locks_out_the_attackers_address_not_the_dpos(nginx, behind_proxy, dpo):
    # The attacker also forges the header, naming the DPO's desk: nginx appends the real
    # address, and only the hop nginx wrote is believed.
    attacker = Browser(nginx, ATTACKER, forwarded_for=DPO_DESK)
    for _ in range(3):
        attacker.sign_in("dpo", "wrong password")
    assert attacker.sign_in("dpo", PASSWORD) == 429

    assert Browser(nginx, DPO_DESK).sign_in("dpo", PASSWORD) == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_it_ignores_a_forged_header_from_outside_the_proxy(nginx, behind_proxy, live_server, dpo):
    # Straight to the portal, not through nginx, claiming to be the DPO's desk.
    direct = Browser(urlsplit(live_server.url).port, "127.0.0.1", forwarded_for=DPO_DESK)
    for _ in range(3):
        direct.sign_in("dpo", "wrong password")
    assert direct.sign_in("dpo", PASSWORD) == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}

    assert Browser(nginx, DPO_DESK).sign_in("dpo", PASSWORD) == 302
