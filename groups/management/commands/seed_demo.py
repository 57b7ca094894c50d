"""Demo data for trying the portal: one account per role and a few groups. Safe to re-run."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as Role
from django.core.management.base import BaseCommand
from django.db import transaction

from groups import services
from groups.models import ChatGroup, Membership
from groups.permissions import AUDITOR_ROLE, DPO_ROLE

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
    ("Commissioner's Office Urgent", "Urgent, short-lived messages between the Commissioner's private office "
     "team about diary changes and attendance. Decisions are recorded in email or the case system.",
     "admin", ["member", "sam", "priya"], "approve"),
    ("Communications On-Call", "Coordinating the out-of-hours communications rota and urgent media queries. "
     "Statements and decisions are filed in the corporate system.", "admin", ["member", "sam"], "approve"),
    ("Victims Services Liaison", "Short-notice logistics for partnership meetings with commissioned "
     "victims services.", "priya", ["sam"], "approve"),
    ("Estates Project Team", "Day-to-day coordination of the office move.", "owen", [], None),
]


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

        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with any of these (password for all: "
                                             f"{DEMO_PASSWORD}):"))
        for username, _, _, _, what in PEOPLE[:5]:
            self.stdout.write(f"  {username:<8} {what}")
        self.stdout.write(f"  ({Membership.objects.active().count()} active memberships, "
                          f"{ChatGroup.objects.count()} groups)")
