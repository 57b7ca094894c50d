"""Members with open clear-downs for the load test (bench/load_test.py). Use an empty database."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.utils import timezone

from attestations import services as clear_downs
from groups.models import ChatGroup, Membership

PASSWORD = "load-test-password-2026"


class Command(BaseCommand):
    help = "Create N members in two approved groups with a closed cycle each, so everyone has two to attest."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=50)

    def handle(self, *args, members: int, **options):
        User = get_user_model()
        now = timezone.now()
        long_ago = now - dt.timedelta(days=30)
        # One hash for everyone: hashing each password separately would take most of a minute.
        password = make_password(PASSWORD)
        owner = User.objects.create(username="load-admin", password=password, email="load-admin@example.org")
        people = User.objects.bulk_create(
            User(username=f"load-member-{n}", password=password, email=f"load-member-{n}@example.org")
            for n in range(members)
        )
        for name in ("Load group A", "Load group B"):
            group = ChatGroup.objects.create(
                name=name,
                purpose="Load test",
                admin=owner,
                proposed_by=owner,
                status=ChatGroup.Status.APPROVED,
                approved_at=long_ago,
                cycle_weekday=(now - dt.timedelta(days=1)).weekday(),
            )
            Membership.objects.bulk_create(
                Membership(group=group, user=user, joined_at=long_ago) for user in [owner, *people]
            )
        result = clear_downs.cycle_close_due(now=now)
        self.stdout.write(f"{members} members, {len(result.cycles)} cycles, {result.obligations} obligations")
