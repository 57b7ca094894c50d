"""Demo data for trying the portal: one account per role and a few groups. Safe to re-run."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as Role
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from attestations import disappearing, hold_notices, reviews
from attestations import services as clear_downs
from attestations.models import Obligation
from attestations.periods import LONDON
from groups import policy, services
from groups.models import ChatGroup, Membership
from groups.permissions import AUDITOR_ROLE, DPO_ROLE
from groups.policy_models import PolicyVersion

DEMO_PASSWORD = "demo-clear-down-2026"

PEOPLE = [
    # username, first, last, role, what they show
    ("dpo", "Dana", "Price", DPO_ROLE, "Data Protection Officer: approves groups, holds, dashboards"),
    ("auditor", "Amir", "Khan", AUDITOR_ROLE, "Auditor: reads everything, changes nothing"),
    ("admin", "Grace", "Adeyemi", None, "Group admin of two groups: membership and prompts"),
    ("member", "Morgan", "Lee", None, "Member of two groups: attests each week"),
    ("sam", "Sam", "Taylor", None, "Member"),
    ("priya", "Priya", "Shah", None, "Member"),
    ("owen", "Owen", "Jones", None, "Member; proposed a group awaiting approval"),
]

GROUPS = [
    (
        "Commissioner's Office Urgent",
        "Urgent, short-lived messages between the Commissioner's private office "
        "team about diary changes and attendance. Decisions are recorded in email or the case system.",
        "admin",
        ["member", "sam", "priya"],
        "approve",
    ),
    (
        "Communications On-Call",
        "Coordinating the out-of-hours communications rota and urgent media queries. "
        "Statements and decisions are filed in the corporate system.",
        "admin",
        ["member", "sam"],
        "approve",
    ),
    (
        "Victims Services Liaison",
        "Short-notice logistics for partnership meetings with commissioned victims services.",
        "priya",
        ["sam"],
        "approve",
    ),
    ("Estates Project Team", "Day-to-day coordination of the office move.", "owen", [], None),
]


WEEKS_OF_HISTORY = 6

# The office's WhatsApp policy (R15), whose text ships with the portal: versions 1.0 and 2.0.
POLICY_TEXT = settings.BASE_DIR / "docs" / "policy" / "opcc-whatsapp-policy.txt"
POLICY_VERSIONS = [
    ("1.0", dt.date(2020, 6, 1), "First version: work WhatsApp groups only, with a defined business purpose."),
    (
        "2.0",
        dt.date(2020, 8, 1),
        "Re-states the guidance after the 2020 lockdown: WhatsApp is not an approved business tool for "
        "one-to-one work messages; only a limited number of approved groups, carrying the office logo, "
        "each cleared every seven days. The rules for the groups are unchanged.",
    ),
]
# Who has acknowledged version 2.0 in the demo: the rest still have it on their home page.
POLICY_ACKNOWLEDGED = ("admin", "priya")


class Command(BaseCommand):
    help = "Create demo accounts (one per role) and demo groups. Idempotent."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        users = {}
        for username, first, last, role, _ in PEOPLE:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if role:
                user.groups.add(Role.objects.get(name=role))
            users[username] = user

        created = []
        for name, purpose, admin, members, action in GROUPS:
            if ChatGroup.objects.filter(name__iexact=name).exists():
                continue
            group = services.chatgroup_propose(name=name, purpose=purpose, by=users[admin])
            for username in members:
                services.membership_add(group=group, user=users[username], by=users[admin])
            if action:
                services.chatgroup_transition(
                    group=group, action=action, by=users["dpo"], reason="Meets the WhatsApp policy (demo data)."
                )
                created.append(group)
        if created:
            self._play_past_weeks(created, users)
        self._seed_policy(users)

        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready. Sign in with any of these (password for all: {DEMO_PASSWORD}):")
        )
        for username, _, _, _, what in PEOPLE:
            if what != "Member":  # the people each showing a part of the portal
                self.stdout.write(f"  {username:<8} {what}")
        self.stdout.write(
            f"  ({Membership.objects.active().count()} active memberships, {ChatGroup.objects.count()} groups)"
        )

    def _seed_policy(self, users) -> None:
        """Versions 1.0 and 2.0 of the policy, published by the DPO; two people have
        acknowledged 2.0 and the others are asked on their home page."""
        if PolicyVersion.objects.exists():
            return
        text = POLICY_TEXT.read_text(encoding="utf-8")
        for number, effective_on, changes in POLICY_VERSIONS:
            version = policy.policy_version_draft(
                draft=policy.PolicyDraft(
                    title="OPCC WhatsApp Policy", number=number, effective_on=effective_on, changes=changes, text=text
                ),
                by=users["dpo"],
            )
            policy.policy_version_publish(version=version, by=users["dpo"])
        for username in POLICY_ACKNOWLEDGED:
            policy.policy_acknowledge(version=version, user=users[username])

    def _play_past_weeks(self, groups, users) -> None:
        """Give the new groups some weeks of clear-downs, so every page has something to show.

        The groups are backdated, then each past week is closed, prompted and attested with
        the portal's own services at that week's time: most members on time, one late, one
        not at all; one prompt missed; the last week still open for the demo member; and an
        FOI hold on one group.
        """
        now = timezone.now()
        start = now - dt.timedelta(weeks=WEEKS_OF_HISTORY, days=1)
        ids = [group.pk for group in groups]
        ChatGroup.objects.filter(pk__in=ids).update(approved_at=start, status_changed_at=start)
        Membership.objects.filter(group_id__in=ids).update(joined_at=start - dt.timedelta(days=7))
        # The history tells the same story: proposed ten days before approval, members added
        # a week before it, approved at the start.
        ChatGroup.history.filter(id__in=ids, history_type="+").update(history_date=start - dt.timedelta(days=10))
        ChatGroup.history.filter(id__in=ids, history_type="~").update(history_date=start, status_changed_at=start)
        Membership.history.filter(group_id__in=ids).update(history_date=start - dt.timedelta(days=7))
        for weeks_ago in range(WEEKS_OF_HISTORY - 1, -1, -1):
            moment = now - dt.timedelta(weeks=weeks_ago)
            for cycle in clear_downs.cycle_close_due(now=moment).cycles:
                if cycle.group_id not in ids:
                    continue
                last_week = weeks_ago == 0 and cycle.period_end > now - dt.timedelta(days=7)
                group = next(g for g in groups if g.pk == cycle.group_id)
                if not (weeks_ago == 2 and group.admin.username == "admin"):  # one prompt missed
                    prompt_at = min(cycle.period_end + dt.timedelta(hours=3), now)
                    clear_downs.cycle_prompt(cycle=cycle, by=group.admin, now=prompt_at)
                for n, obligation in enumerate(cycle.obligations.select_related("user").order_by("user__username")):
                    who = obligation.user.username
                    if last_week and who in ("member", "sam"):
                        continue  # still to do: the demo member has something to attest
                    if weeks_ago == 1 and who == "sam":
                        continue  # never attested: overdue
                    late = weeks_ago == 3 and who == "member"
                    at = (
                        obligation.due_at + dt.timedelta(hours=20)
                        if late
                        else cycle.period_end + dt.timedelta(hours=2 + 5 * n)
                    )
                    if at >= now:
                        continue
                    clear_downs.obligation_attest(
                        obligations=[obligation],
                        user=obligation.user,
                        now=at,
                        cleared_on=at.astimezone(LONDON).date(),
                        confirmed_cleared=True,
                        confirmed_saved=True,
                        channel=Obligation.Channel.EMAIL if n % 2 else Obligation.Channel.WEB,
                    )
        clear_downs.flags_raise(now=now)
        held = next((g for g in groups if g.admin.username == "priya"), None)
        if held:
            # A group cleared by WhatsApp's 7-day timer (R17), so its hold asks for the timer off.
            disappearing.clear_mode_set(group=held, by=users["dpo"], mode="disappearing_7d", timer_check="weekly")
            # With its notices: each member is emailed (the emails are sent by the next sweep).
            hold_notices.hold_place(
                group=held,
                by=users["dpo"],
                reference="FOI-2026-0142",
                now=now - dt.timedelta(days=2),
                reason="FOI request received for partnership meeting arrangements (demo data).",
                queue=False,
            )
        # One group's periodic review answered by its admin, waiting for the DPO (R16).
        answered = next((g for g in groups if g.name == "Communications On-Call"), None)
        review = reviews.review_open(group=answered) if answered else None
        if review is not None:
            keep = {m.pk: True for m in Membership.objects.active().filter(group=answered)}
            reviews.review_submit(
                review=review,
                by=answered.admin,
                purpose=answered.purpose,
                purpose_confirmed=True,
                official_only=True,
                settings_confirmed=True,
                keep=keep,
            )
