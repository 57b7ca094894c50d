"""Save screenshots of the main pages at desktop and phone sizes, for the README.

Needs a running portal with the demo data (`make screenshots` starts one) and Chromium.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from playwright.sync_api import sync_playwright

from attestations.links import obligation_link_token
from attestations.management.commands.seed_demo import DEMO_PASSWORD
from attestations.models import Hold, Obligation
from attestations.periods import LONDON
from groups.models import ChatGroup, GroupReview
from groups.policy_selectors import policy_current

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}

# (file name, who signs in, path). Paths that do not exist are skipped with a warning.
PAGES = [
    ("login", None, "/accounts/login/"),
    ("legal-privacy", None, "/privacy/"),
    ("legal-accessibility", None, "/accessibility/"),
    ("legal-cookies", None, "/cookies/"),
    ("member-home", "member", "/"),
    ("member-howto", "member", "/clear-downs/how-to/"),
    # The emailed link opened on a phone without signing in, and the receipt it leaves.
    ("member-link", None, "{link}"),
    ("member-link-recorded", None, "{done_link}"),
    ("member-calendar", "member", "/clear-downs/calendar/"),
    ("admin-member-add", "admin", "/groups/{group}/members/add/?q=a"),
    ("register", "member", "/groups/"),
    ("admin-group", "admin", "/groups/{group}/"),
    ("dpo-dashboard", "dpo", "/dashboard/"),
    ("dpo-group-history", "dpo", "/groups/{group}/history/"),
    ("auditor-audit", "auditor", "/audit/"),
    # A hold that reaches people: a member's notice, the admin's message for the chat, the record.
    ("member-hold", "sam", "/"),
    ("admin-hold-group", "priya", "/groups/{held}/"),
    ("dpo-hold-record", "dpo", "/clear-downs/holds/{hold}/"),
    ("admin-review", "admin", "/clear-downs/groups/{group}/review/"),
    ("dpo-reviews", "dpo", "/clear-downs/reviews/"),
    ("dpo-review-decide", "dpo", "/clear-downs/reviews/{review}/"),
    # Staff (R14): the list, the roles page and the import.
    ("dpo-staff", "dpo", "/staff/"),
    ("dpo-staff-roles", "dpo", "/staff/roles/"),
    ("dpo-staff-import", "dpo", "/staff/import/"),
    # Issue 18: an FOI request's "what may still exist" on the FOI pack, and subject access.
    ("dpo-foi-exist", "dpo", "/audit/foi/?group={group}&from={fortnight_ago}&to={yesterday}#what-may-exist"),
    ("dpo-subject-access", "dpo", "/audit/subject-access/?q=member"),
    # The policy (R15): the versions, a version as the DPO sees it, who has acknowledged it.
    ("member-policy", "member", "/policy/"),
    ("dpo-policy-version", "dpo", "/policy/{policy}/"),
    ("dpo-policy-dashboard", "dpo", "/dashboard/policy/"),
    # The retention schedule, the next run's figures and what was disposed of (R18).
    ("dpo-retention", "dpo", "/audit/retention/"),
]


class Command(BaseCommand):
    help = "Save screenshots of the main pages into docs/screenshots/."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--out", default="docs/screenshots")
        parser.add_argument("--only", nargs="*", default=[], help="Only these pages (file names without size).")

    def handle(self, *args, base_url: str, out: str, only: list[str], **options):
        chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
        if not chromium:
            raise CommandError("Chromium is not installed (apt-get install chromium).")
        group = ChatGroup.objects.filter(admin__username="admin").order_by("pk").first()
        hold = Hold.objects.standing().order_by("pk").first()
        review = GroupReview.objects.filter(status=GroupReview.Status.SUBMITTED).order_by("pk").first()
        mine = Obligation.objects.filter(user__username="member").order_by("-due_at", "pk")
        owed = mine.filter(status=Obligation.Status.PENDING, cycle__hold__isnull=True).first()
        done = mine.filter(status__in=Obligation.DONE).first()
        today = timezone.now().astimezone(LONDON).date()
        ids = {
            "fortnight_ago": today - dt.timedelta(days=14),
            "yesterday": today - dt.timedelta(days=1),
            "group": group.pk if group else 0,
            "hold": hold.pk if hold else 0,
            "held": hold.group_id if hold else 0,
            "policy": current.pk if (current := policy_current(now=timezone.now())) else 0,
            "review": review.pk if review else 0,
            "link": f"/clear-downs/link/{obligation_link_token(owed)}/" if owed else "/clear-downs/link/none/",
            "done_link": f"/clear-downs/link/{obligation_link_token(done)}/" if done else "/clear-downs/link/none/",
        }
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"],
            )
            for size, (width, height) in SIZES.items():
                contexts = {}
                for name, who, path in PAGES:
                    if only and name not in only:
                        continue
                    if who not in contexts:
                        contexts[who] = browser.new_context(
                            viewport={"width": width, "height": height}, locale="en-GB", timezone_id="Europe/London"
                        )
                        if who:
                            self._sign_in(contexts[who].new_page(), base_url, who)
                    page = contexts[who].new_page()
                    response = page.goto(base_url + path.format(**ids))
                    if response is None or response.status >= 400:
                        self.stderr.write(f"skipped {name}: {path} answered {response and response.status}")
                        continue
                    target = out_dir / f"{name}-{size}.png"
                    page.screenshot(path=str(target), full_page=True)
                    self.stdout.write(f"saved {target}")
            browser.close()

    @staticmethod
    def _sign_in(page, base_url: str, username: str) -> None:
        page.goto(f"{base_url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
