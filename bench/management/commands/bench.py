"""Time the pages as served on the data in the database, and the dashboard against one
hand-written SQL of everything its first screen shows.

    DEBUG=true python manage.py seed_scale --staff 10000 --groups 1000 --weeks 52
    SECRET_KEY=... ALLOWED_HOSTS=testserver python manage.py bench --runs 20

Pages are rendered through the Django test client (the whole stack: middleware, session,
permissions, selectors, templates), signed in as the DPO (who reads the audit pages too)
and as a member: the dashboard, the emails page (newest, and the failed ones), the
drill-down and the FOI pack of the largest group, the audit history (newest, and a page
500,000 attestation changes in, filtered by kind and dates, by the link the page writes),
the people, flags and clear-downs lists, a member's home and the trend chart. It prints
each page's median, p90 and queries, then times the dashboard again in turns with
`bench.first_screen.FIRST_SCREEN_SQL` (one statement of everything its first screen shows),
checks that the two agree (figures, table, strips, trend, lists) and prints the ratio.
Nothing is written except the benchmark's own sessions. Run it with DEBUG off, as the
portal is served: with DEBUG on, every query is logged as it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import statistics
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, reset_queries
from django.db.models import Count, Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attestations.audit import history as audit
from attestations.dashboard import stats
from attestations.dashboard import views as dashboard_views
from attestations.models import Obligation
from bench.first_screen import first_screen_by_hand, the_page_s_figures, the_statement_s_figures
from groups.models import ChatGroup, Membership
from groups.permissions import DPO_ROLE
from opcc_portal.lib import keyset


class Command(BaseCommand):
    help = "Benchmark the dashboard, a drill-down and a member's home; compare with hand-written SQL."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=30, help="Timed requests per page (default 30).")
        parser.add_argument("--only", nargs="*", default=[], help="Time only the pages whose name has one of these.")

    def handle(self, *args, runs: int, only: list[str], **options):
        logging.getLogger("opcc_portal.requests").setLevel(logging.WARNING)  # one line a request otherwise
        if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        User = get_user_model()
        dpo = User.objects.filter(groups__name=DPO_ROLE, is_active=True).order_by("pk").first()
        if dpo is None or not ChatGroup.objects.exists():
            raise CommandError("No data: run `manage.py seed_scale` on this database first.")
        group = (
            ChatGroup.objects.approved()
            .annotate(n=Count("memberships", filter=Q(memberships__left_at__isnull=True)))
            .order_by("-n", "pk")
            .first()
        )
        member_id = (
            Membership.objects.filter(left_at__isnull=True, group__status=ChatGroup.Status.APPROVED)
            .values("user_id")
            .annotate(n=Count("pk"))
            .order_by("-n", "user_id")
            .values_list("user_id", flat=True)
            .first()
        )
        member = User.objects.get(pk=member_id)

        self.out(self.machine())
        if settings.DEBUG:
            self.out("DEBUG is on: Django logs every query, so pages take longer than as served (run with DEBUG off)")
        load_before = _load()
        dpo_client, member_client = Client(), Client()
        dpo_client.force_login(dpo)
        member_client.force_login(member)
        auditor_client = dpo_client  # the DPO reads the audit pages too
        history_deep = _history_deep_url(offset=HISTORY_DEEP_OFFSET)
        pages = [
            ("DPO dashboard", dpo_client, reverse("dashboard:index")),
            ("emails, newest", dpo_client, reverse("dashboard:emails")),
            ("emails, failed", dpo_client, reverse("dashboard:emails") + "?status=failed"),
            (f"drill-down ({group.n} members)", dpo_client, reverse("dashboard:group", args=[group.pk])),
            ("audit history, newest", auditor_client, reverse("audit:history")),
            (f"audit history, deep ({history_deep[0]})", auditor_client, history_deep[1]),
            (f"FOI pack ({group.n} members)", auditor_client, reverse("audit:foi_pack") + f"?group={group.pk}"),
            ("people", dpo_client, reverse("dashboard:people")),
            ("flags", dpo_client, reverse("dashboard:flags")),
            ("clear-downs", dpo_client, reverse("dashboard:obligations")),
            ("member home", member_client, reverse("home")),
            ("trend chart (SVG)", dpo_client, reverse("dashboard:trend_svg")),
        ]
        if only:
            pages = [page for page in pages if any(word in page[0] for word in only)]
        results = {}
        self.out(f"\n{'page':<44} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
        for name, client, url in pages:
            median, p90, queries = self.time_page(client, url, runs)
            results[name] = median
            self.out(f"{name:<44} {median:>10.1f} {p90:>8.1f} {queries:>8}")
        if "DPO dashboard" not in results:
            return

        if connection.vendor != "postgresql":
            self.out("\nThe hand-written SQL of the first screen is PostgreSQL's: no ratio on " + connection.vendor)
            return
        now = timezone.now()
        dates = stats.DateRange.default()
        failed_since = now - dashboard_views.FAILED_EMAILS_WINDOW
        size = dashboard_views.PAGE_SIZE

        def by_hand():
            return first_screen_by_hand(
                dates=dates, now=now, viewer_id=dpo.pk, failed_since=failed_since, size=size, connection=connection
            )

        # The page and the statement in turns, so that a machine slowing down or speeding up
        # during the run weighs on both alike.
        page_ms, hand_ms = self.time_in_turns(lambda: _get(dpo_client, reverse("dashboard:index")), by_hand, runs)
        theirs = the_statement_s_figures(by_hand())
        mine = the_page_s_figures(dates=dates, now=now, viewer=dpo, failed_since=failed_since, size=size)
        differ = [name for name in mine if mine[name] != theirs[name]]
        self.out(
            f"\nthe dashboard and one hand-written SQL of its first screen, in turns ({runs} each):\n"
            f"  page as served {page_ms:8.1f} ms\n  hand-written SQL {hand_ms:6.1f} ms "
            f"({theirs['failed']} failed emails, {len(theirs['trend'])} weeks, {len(theirs['strips'])} strip cells)"
        )
        self.out(f"figures, table, strips, trend and lists agree: {'no: ' + ', '.join(differ) if differ else 'yes'}")
        self.out(f"ratio dashboard page (as served) / hand-written SQL: {page_ms / hand_ms:.2f}")
        self.out(f"load average before / after: {load_before} / {_load()}")
        if differ:
            raise CommandError(f"The page and the hand-written SQL differ in: {', '.join(differ)}.")

    def out(self, text: str) -> None:
        self.stdout.write(text)

    def machine(self) -> str:
        counts = {
            "groups": ChatGroup.objects.count(),
            "people": get_user_model().objects.count(),
            "obligations": Obligation.objects.count(),
        }
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
            version = cursor.fetchone()[0].split(" on ")[0]
        return (
            f"{_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}, {connection.vendor} {version}\n"
            f"data: {', '.join(f'{n:,} {k}' for k, n in counts.items())}"
        )

    def time_page(self, client: Client, url: str, runs: int) -> tuple[float, float, int]:
        for _ in range(2):  # warm the template cache and the database's buffers
            _get(client, url)
        reset_queries()  # each request starts by clearing the log; start the count from empty
        with CaptureQueriesContext(connection) as captured:
            _get(client, url)
        # Counted now: `captured_queries` reads the connection's log, which the next request empties.
        queries = len(captured.captured_queries)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            _get(client, url)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        return statistics.median(times), times[int(0.9 * (len(times) - 1))], queries

    def time_in_turns(self, first, second, runs: int) -> tuple[float, float]:
        """The median of each of two calls made in turns, `runs` times each, after one of each."""
        times: tuple[list, list] = ([], [])
        for i in range(runs + 1):
            for fn, kept in ((first, times[0]), (second, times[1])):
                started = time.perf_counter()
                fn()
                if i:
                    kept.append((time.perf_counter() - started) * 1000)
        return statistics.median(times[0]), statistics.median(times[1])


# The deep page of the audit history: this many changes in, with filters (a kind and dates).
HISTORY_DEEP_OFFSET = 500_000


def _history_deep_url(*, offset: int) -> tuple[str, str]:
    """A page of attestation changes `offset` changes in, newest first, within the last
    year: its link as the page writes it (the position of the change just before it)."""
    today = timezone.localdate()
    start = today - dt.timedelta(days=365)
    query = {"kind": "obligation", "from": start.isoformat(), "to": today.isoformat()}
    filters = audit.HistoryFilters(start=start, end=today, kind="obligation")
    base = audit._history_base(audit.HISTORY_KINDS["obligation"], filters)
    rows = base.order_by("-history_date", "-history_id").values_list("history_date", "history_id")
    found = list(rows[offset - 1 : offset])
    if found:
        when, history_id = found[0]
        query["after"] = keyset.Cursor(when=when, label="obligation", pk=history_id).encode()
    label = f"{offset:,} changes in" if found else "past the last change"
    return label, reverse("audit:history") + "?" + urlencode(query)


def _get(client: Client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise CommandError(f"GET {url} answered {response.status_code}")
    if response.streaming:
        b"".join(response.streaming_content)
    else:
        response.content  # noqa: B018 - the body is built by now; reading it is the point


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
