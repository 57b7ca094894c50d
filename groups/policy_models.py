"""The office's WhatsApp policy itself (R15): its versions, and each person's acknowledgement.

A version is drafted by the DPO, then published; once published it never changes (the
services refuse, and a database trigger refuses an UPDATE or DELETE of a published row), so
what people acknowledged is what they read. The current version is the latest published
one whose effective date has come.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


def policy_pdf_upload_to(instance: PolicyVersion, filename: str) -> str:
    # The uploaded name is never used: it may carry a path or a misleading extension.
    return f"policy/{uuid.uuid4().hex}.pdf"


class PolicyVersion(models.Model):
    title = models.CharField(max_length=200)
    number = models.CharField(max_length=20, unique=True, help_text="The version number, for example 2.0.")
    effective_on = models.DateField(help_text="The day the version takes effect.")
    text = models.TextField(max_length=200_000, blank=True)
    pdf = models.FileField(upload_to=policy_pdf_upload_to, blank=True)
    changes = models.TextField(max_length=5000, help_text="A summary of what changed from the version before.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-effective_on", "-published_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="policyversion_title_not_empty"),
            models.CheckConstraint(condition=~Q(number=""), name="policyversion_number_not_empty"),
            models.CheckConstraint(condition=~Q(changes=""), name="policyversion_changes_not_empty"),
            models.CheckConstraint(condition=~Q(text="") | ~Q(pdf=""), name="policyversion_text_or_pdf"),
            models.CheckConstraint(
                condition=Q(published_at__isnull=True, published_by__isnull=True)
                | Q(published_at__isnull=False, published_by__isnull=False),
                name="policyversion_published_by_and_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Version {self.number}: {self.title}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class PolicyAcknowledgement(models.Model):
    """One person's duty to acknowledge one version, and when they did (R15).

    Made for everyone who owes it, when the version becomes current or when they join a
    group; `acknowledged_at` is set once, by their own tap. The row is also the claim of the
    emails about it: one reminder, one overdue notice, one line in one admin digest.
    """

    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="acknowledgements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="policy_acks")
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "user"]
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="policyack_one_per_user_per_version"),
        ]
        indexes = [models.Index(fields=["acknowledged_at", "due_at"], name="policyack_open_due_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} on version {self.version_id}"

    @property
    def is_done(self) -> bool:
        return self.acknowledged_at is not None


class PendingMembership(models.Model):
    """A person added to a group who joins once they acknowledge the current policy
    (POLICY_ACK_BEFORE_JOINING). Until then they are not a member: they owe no clear-downs.
    At the acknowledgement the membership starts (`joined_at` is that moment); an admin may
    withdraw the add instead."""

    group = models.ForeignKey("groups.ChatGroup", on_delete=models.PROTECT, related_name="pending_memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pending_memberships")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()
    # Set when the person acknowledged and joined, or when the add was withdrawn.
    resolved_at = models.DateTimeField(null=True, blank=True)
    membership = models.OneToOneField(
        "groups.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="pending"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "user"], condition=Q(resolved_at__isnull=True), name="pendingmembership_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} waiting to join {self.group_id}"
