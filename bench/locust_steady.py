"""Members already signed in, in a steady state: home, the confirm page of an emailed link,
attest, home again, with think time between; then the next member (bench_load).

Each simulated person takes the next member of the list in LOAD_MEMBERS (a JSON file of
session cookies and links, made by `manage.py bench_load`); when the list is used up, members
come round again and their attest is a replay that must record nothing new.
"""

import itertools
import json
import os
import random
import re

import gevent
from locust import HttpUser, between, task

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
OBLIGATION = re.compile(r'name="obligations" value="(\d+)"')

with open(os.environ["LOAD_MEMBERS"]) as handle:
    MEMBERS = json.load(handle)
_next = itertools.count()


def _think():
    # Half to one and a half times the mean, at random: people do not move in step, and a fixed
    # pause would keep everyone who started together arriving together, a burst every pause.
    gevent.sleep(float(os.environ.get("LOAD_THINK_SECONDS", "2")) * random.uniform(0.5, 1.5))


class SignedInMember(HttpUser):
    wait_time = between(1, 3)

    def on_start(self):
        # A new connection for each request: gunicorn closes an idle kept-alive connection after
        # two seconds, and a request sent on it as it closes would count as an error of the portal.
        self.client.headers["Connection"] = "close"
        self.take_next()

    def take_next(self):
        member = MEMBERS[next(_next) % len(MEMBERS)]
        self.client.cookies.clear()
        name, _, value = member["cookie"].partition("=")
        self.client.cookies.set(name, value)
        self.member = member

    @task
    def clear_down(self):
        home = self.client.get("/", name="home")
        ids = OBLIGATION.findall(home.text)
        _think()
        self.client.get(self.member["link"], name="confirm")
        _think()
        token = CSRF.search(home.text)
        if token:
            data = {
                "obligations": ids or self.member["obligations"],
                "cleared_on": self.member["cleared_on"],
                "confirmed_saved": "on",
                "csrfmiddlewaretoken": token.group(1),
            }
            with self.client.post("/", data, name="attest", allow_redirects=False, catch_response=True) as r:
                if r.status_code not in (302, 303):
                    r.failure(f"attest answered {r.status_code}")
        self.client.get("/", name="home")
        self.take_next()
