"""Error reports reach Sentry only when SENTRY_DSN is set, and carry no personal data.

A real HTTP endpoint on loopback stands in for Sentry's ingestion API: the portal's own
process (started with SENTRY_DSN pointing at it) fails a request, and the test reads the
envelope the SDK really sent (README: Error reports)."""

import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from opcc_portal.observability import sentry_scrub

ROOT = Path(__file__).resolve().parent.parent

# In the portal's process, through the WSGI application gunicorn serves: the health check's
# database probe fails with a bug, for a request carrying what a report must not hold (a
# session cookie, a token in the query string, a credential header). A signed link in the
# path is the unit test's, below.
FAIL_A_REQUEST = """
import os
from wsgiref.util import setup_testing_defaults
from django.core.wsgi import get_wsgi_application
import opcc_portal.views as views
def broken():
    raise ZeroDivisionError("a bug in the portal")
views._database_ok = broken
environ = {
    "PATH_INFO": "/healthz",
    "QUERY_STRING": "token=" + os.environ["PROBE_TOKEN"],
    "HTTP_HOST": "testserver",
    "HTTP_COOKIE": "sessionid=" + os.environ["PROBE_SESSION"],
    "HTTP_AUTHORIZATION": "Bearer " + os.environ["PROBE_CREDENTIAL"],
    "HTTP_USER_AGENT": "a phone",
}
setup_testing_defaults(environ)
statuses = []
get_wsgi_application()(environ, lambda status, headers: statuses.append(status))
print("status", statuses[0])
"""


class Sentry(BaseHTTPRequestHandler):
    envelopes: list[list[dict]] = []

    def do_POST(self):  # noqa: N802 - the name http.server looks for
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.envelopes.append([json.loads(line) for line in body.splitlines() if line.strip()])
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry():
    Sentry.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sentry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1", Sentry.envelopes
    server.shutdown()


@pytest.fixture(scope="module")
def portal_env(tmp_path_factory):
    """The environment of a portal process with a database of its own (SQLite, migrated)."""
    environment = {**os.environ, "DEBUG": "true", "ALLOWED_HOSTS": "testserver"}
    environment.pop("DATABASE_URL", None)
    environment["VAR_DIR"] = str(tmp_path_factory.mktemp("portal-var"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=environment, check=True, timeout=300)
    return environment


# What the failing request carries (passed in the environment, so that no source line of the
# report holds them either).
SECRETS = {"PROBE_TOKEN": "secret-query-token", "PROBE_SESSION": "secret-session-key", "PROBE_CREDENTIAL": "secret-hdr"}


def _run(environment: dict, code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**environment, **SECRETS, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_failing_request_is_reported_without_personal_data(sentry, portal_env):
    dsn, envelopes = sentry
    result = _run(portal_env, FAIL_A_REQUEST, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="ci")
    assert "status 500 Internal Server Error" in result.stdout, result.stderr
    events = [item for envelope in envelopes for item in envelope if item.get("exception")]
    assert len(events) == 1, [(e.get("logger"), e["exception"]["values"][-1]["type"]) for e in events]
    [event] = events
    assert event["exception"]["values"][-1]["type"] == "ZeroDivisionError"
    assert event["environment"] == "ci"
    request = event["request"]
    assert request["url"] == "http://testserver/healthz" and request["method"] == "GET"
    assert "cookies" not in request and "query_string" not in request and "data" not in request
    assert request["headers"] == {"Host": "testserver", "User-Agent": "a phone"}
    sent = json.dumps(envelopes)
    for secret in SECRETS.values():
        assert secret not in sent, sent[max(0, sent.find(secret) - 300) : sent.find(secret) + 50]
    assert event["tags"]["request_id"] and not event.get("breadcrumbs", {}).get("values")


def test_nothing_is_sent_without_a_dsn(sentry, portal_env):
    _, envelopes = sentry
    result = _run(portal_env, FAIL_A_REQUEST)
    assert "status 500 Internal Server Error" in result.stdout, result.stderr
    assert envelopes == []


def test_the_scrubber_keeps_only_the_account_number_and_hides_signed_links():
    event = {
        "request": {
            "url": "https://portal.example/clear-downs/link/eyJvIjo1fQ:1x:abc/",
            "headers": {"User-Agent": "phone", "Cookie": "sessionid=x", "X-Forwarded-For": "203.0.113.9"},
            "query_string": "a=b",
            "cookies": {"sessionid": "x"},
        },
        "user": {"id": 42, "email": "morgan@example.org", "username": "morgan", "ip_address": "203.0.113.9"},
    }
    scrubbed = sentry_scrub(event)
    assert scrubbed["request"] == {
        "url": "https://portal.example/clear-downs/link/[signed]/",
        "headers": {"User-Agent": "phone"},
    }
    assert scrubbed["user"] == {"id": 42}
    notice = sentry_scrub({"request": {"url": "https://p/clear-downs/holds/notice/tok123/"}})
    assert notice["request"]["url"] == "https://p/clear-downs/holds/notice/[signed]/"
    feed = sentry_scrub({"request": {"url": "https://p/clear-downs/calendar/abc.ics"}})
    assert feed["request"]["url"] == "https://p/clear-downs/calendar/[signed]"
