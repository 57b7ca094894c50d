"""Simulated members: sign in, look around, attest both their groups in one submit, replay it."""

import datetime as dt
import itertools
import re
from zoneinfo import ZoneInfo

from locust import HttpUser, between, task

PASSWORD = "load-test-password-2026"
_numbers = itertools.count()
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
OBLIGATION = re.compile(r'name="obligations" value="(\d+)"')


class Member(HttpUser):
    wait_time = between(0.5, 2)

    def on_start(self):
        self.username = f"load-member-{next(_numbers)}"
        page = self.client.get("/accounts/login/", name="login page")
        token = CSRF.search(page.text).group(1)
        self.client.post(
            "/accounts/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            name="sign in",
        )
        # Most members come from the emailed prompt to attest straight away.
        self.attest()

    @task(3)
    def home(self):
        self.client.get("/", name="my clear-downs")

    @task(1)
    def register(self):
        self.client.get("/groups/", name="register")

    @task(1)
    def howto(self):
        self.client.get("/clear-downs/how-to/", name="how-to")

    @task(1)
    def attest(self):
        page = self.client.get("/", name="my clear-downs")
        ids = OBLIGATION.findall(page.text)
        if not ids:
            return
        data = {
            "obligations": ids,
            "cleared_on": _today(),
            "confirmed_saved": "on",
            "csrfmiddlewaretoken": CSRF.search(page.text).group(1),
        }
        self.client.post("/", data, name="attest")
        # The same POST again (double click, replay): must record nothing new.
        self.client.post("/", data, name="attest replay")


def _today() -> str:
    return dt.datetime.now(ZoneInfo("Europe/London")).date().isoformat()
