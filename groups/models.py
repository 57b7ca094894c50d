"""The register of approved work WhatsApp groups (docs/rules.md: R1–R3, R11)."""

from __future__ import annotations

import uuid
from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.templatetags.static import static
from django.urls import reverse
from simple_history.models import HistoricalRecords

from .policy_models import PendingMembership, PolicyAcknowledgement, PolicyVersion  # noqa: F401  (R15)

DEFAULT_LOGO = "img/office-logo.png"


def logo_upload_to(instance: ChatGroup, filename: str) -> str:
    # The uploaded name is never used: it may carry a path, script or misleading extension.
    return f"logos/{uuid.uuid4().hex}.png"


class ChatGroupQuerySet(models.QuerySet):
    def approved(self):
        return self.filter(status=ChatGroup.Status.APPROVED)

    def with_member_count(self):
        return self.annotate(member_count=models.Count("memberships", filter=Q(memberships__left_at__isnull=True)))


class ChatGroup(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"
        SUSPENDED = "suspended", "Suspended"
        RETIRED = "retired", "Retired"

    class ClearMode(models.TextChoices):
        MANUAL = "manual", "Manual: members clear the chat every seven days"
        DISAPPEARING = "disappearing_7d", "Disappearing messages: 7 days"

    class TimerCheck(models.TextChoices):
        WEEKLY = "weekly", "Every week"
        REVIEW = "review", "At each review"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    name = models.CharField(max_length=100)
    purpose = models.TextField(max_length=2000, help_text="The business purpose the group exists for.")
    logo = models.ImageField(upload_to=logo_upload_to, blank=True)
    admin = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="administered_groups")
    deputy = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deputised_groups",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    status_reason = models.TextField(blank=True, help_text="Why the group last changed status.")
    # When the status last changed. A suspension or retirement ends the group's running
    # period at this moment, and a reinstatement starts the next one here (R13).
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Each group closes its seven-day cycle on its own weekday and local time (R4).
    cycle_weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.FRIDAY)
    cycle_time = models.TimeField(default=time(17, 0))
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposed_groups")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_groups",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # How often the group is reviewed (R16), set by the DPO for this group; empty means
    # GROUP_REVIEW_MONTHS.
    review_months = models.PositiveSmallIntegerField(null=True, blank=True)
    # WhatsApp's own 7-day timer, approved by the DPO (R17): members then declare only what
    # the timer leaves (starred messages, media saved to the phone), and the admin confirms
    # the timer is on and locked to admins every week or at each review, as the DPO sets.
    clear_mode = models.CharField(max_length=20, choices=ClearMode.choices, default=ClearMode.MANUAL)
    timer_check = models.CharField(max_length=10, choices=TimerCheck.choices, default=TimerCheck.WEEKLY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = ChatGroupQuerySet.as_manager()

    class Meta:
        verbose_name = "chat group"
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="chatgroup_name_unique_ci"),
            models.CheckConstraint(condition=~Q(name=""), name="chatgroup_name_not_empty"),
            models.CheckConstraint(condition=~Q(purpose=""), name="chatgroup_purpose_not_empty"),
            models.CheckConstraint(
                condition=Q(cycle_weekday__gte=0, cycle_weekday__lte=6), name="chatgroup_weekday_valid"
            ),
            models.CheckConstraint(condition=~Q(deputy=models.F("admin")), name="chatgroup_deputy_not_admin"),
            models.CheckConstraint(
                condition=Q(status__in=["proposed", "approved", "suspended", "retired"]),
                name="chatgroup_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(review_months__isnull=True) | Q(review_months__gte=1, review_months__lte=24),
                name="chatgroup_review_months_valid",
            ),
            models.CheckConstraint(
                condition=Q(clear_mode__in=["manual", "disappearing_7d"]), name="chatgroup_clear_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(timer_check__in=["weekly", "review"]), name="chatgroup_timer_check_valid"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="chatgroup_status_idx")]
        permissions = [
            ("approve_chatgroup", "Can approve, suspend, reinstate and retire chat groups"),
            ("manage_any_chatgroup", "Can manage the membership of any chat group"),
            ("view_register_history", "Can read the change history of the register"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("groups:detail", args=[self.pk])

    @property
    def logo_url(self) -> str:
        if not self.logo:
            return static(DEFAULT_LOGO)
        # The stored name changes with every upload, so browsers may cache each version.
        return f"{reverse('groups:logo', args=[self.pk])}?v={self.logo.name.rsplit('/', 1)[-1][:12]}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.APPROVED

    @property
    def uses_timer(self) -> bool:
        """WhatsApp's 7-day disappearing messages clear the chat (R17)."""
        return self.clear_mode == self.ClearMode.DISAPPEARING

    @property
    def is_stopped(self) -> bool:
        """Suspended or retired: what was owed is still owed, but nothing new starts (R13)."""
        return self.status in (self.Status.SUSPENDED, self.Status.RETIRED)


class MembershipQuerySet(models.QuerySet):
    def active(self):
        return self.filter(left_at__isnull=True)


class Membership(models.Model):
    """A person's time in a group. Rows are never deleted: leaving sets `left_at` (R7, R11)."""

    group = models.ForeignKey(ChatGroup, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()
    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "user"],
                condition=Q(left_at__isnull=True),
                name="membership_one_active_per_user",
            ),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(left_at__gte=models.F("joined_at")),
                name="membership_left_after_joined",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "left_at"], name="membership_group_left_idx"),
            models.Index(fields=["user", "left_at"], name="membership_user_left_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"

    @property
    def is_active(self) -> bool:
        return self.left_at is None


class GroupReview(models.Model):
    """One periodic review of one group (R16): due by `due_at`, answered by the admin (or
    deputy), signed off or sent back by the DPO. Made when the group is approved and again
    when a review is signed off, for the next cycle; at most one is open per group.

    A review sent back is open again (`due`), with the DPO's reason; `submission` counts
    the admin's answers, so each submission's answers about the members are kept.
    """

    class Status(models.TextChoices):
        DUE = "due", "Waiting for the admin"
        SUBMITTED = "submitted", "Waiting for the DPO"
        SIGNED_OFF = "signed_off", "Signed off"

    group = models.ForeignKey(ChatGroup, on_delete=models.PROTECT, related_name="reviews")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DUE)
    submission = models.PositiveSmallIntegerField(default=0)
    # The admin's answers, as last submitted.
    purpose = models.TextField(max_length=2000, blank=True, help_text="The business purpose as the admin confirmed it.")
    purpose_confirmed = models.BooleanField(default=False)
    official_only = models.BooleanField(default=False)
    settings_confirmed = models.BooleanField(default=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The DPO's decision: signed off, or sent back with a reason (the last one).
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["-due_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["group"], condition=~Q(status="signed_off"), name="groupreview_one_open_per_group"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["due", "submitted", "signed_off"]), name="groupreview_status_valid"
            ),
            # Submitted or signed off only with every confirmation given.
            models.CheckConstraint(
                condition=Q(status="due")
                | Q(purpose_confirmed=True, official_only=True, settings_confirmed=True, submitted_at__isnull=False),
                name="groupreview_submitted_complete",
            ),
            models.CheckConstraint(
                condition=~Q(status="signed_off") | Q(signed_off_at__isnull=False, signed_off_by__isnull=False),
                name="groupreview_signed_off_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="groupreview_open_idx", condition=~Q(status="signed_off")),
        ]

    def __str__(self) -> str:
        return f"Review of {self.group_id} due {self.due_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.SIGNED_OFF


class ReviewAnswer(models.Model):
    """The admin's answer about one member in one submission of a review: keep or remove.
    A removal ends the membership through the register's own service, at submission."""

    review = models.ForeignKey(GroupReview, on_delete=models.PROTECT, related_name="answers")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="review_answers")
    submission = models.PositiveSmallIntegerField()
    keep = models.BooleanField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["review", "submission", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["review", "submission", "membership"], name="reviewanswer_one_per_member"),
        ]

    def __str__(self) -> str:
        return f"{'Keep' if self.keep else 'Remove'} {self.membership_id} in review {self.review_id}"


class TimerConfirmation(models.Model):
    """The admin's (or deputy's) word that a disappearing-messages group's timer is on, at 7
    days, and that only admins can change the group's settings (R17). One row each time."""

    group = models.ForeignKey(ChatGroup, on_delete=models.PROTECT, related_name="timer_confirmations")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["-confirmed_at", "-pk"]
        indexes = [models.Index(fields=["group", "-confirmed_at"], name="timerconfirmation_group_idx")]

    def __str__(self) -> str:
        return f"Timer on in {self.group_id} at {self.confirmed_at:%Y-%m-%d %H:%M}"


class ExternalIdentity(models.Model):
    """A person's account at the office's identity provider, linked to their portal account.

    Sign-in through the provider finds the account by the provider's stable subject id, never
    by email (which changes). Kept with the register because the register holds the people;
    a person has at most one identity per provider, and an identity one person.
    """

    class LinkedBy(models.TextChoices):
        EMAIL = "email", "Verified email address"
        USERNAME = "username", "Username"
        CREATED = "created", "Account created at first sign-in"
        ADMIN = "admin", "Linked by IT"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=255, help_text="The provider's issuer URL.")
    subject = models.CharField(max_length=255, help_text="The provider's stable id for this person.")
    linked_at = models.DateTimeField()
    linked_by = models.CharField(max_length=10, choices=LinkedBy.choices)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)
    # The roles the provider's claim gave at the last sign-in (names, comma-separated): each
    # change is a history row saying what was granted or removed.
    provider_roles = models.CharField(max_length=200, blank=True)

    history = HistoricalRecords(excluded_fields=["last_sign_in_at"])

    class Meta:
        verbose_name = "identity at the sign-in provider"
        verbose_name_plural = "identities at the sign-in provider"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_unique_issuer_subject"),
            models.UniqueConstraint(fields=["issuer", "user"], name="identity_one_per_user_per_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.issuer}"


class StaffProfile(models.Model):
    """What the portal keeps of a member of staff beside their account: the keys the
    office's directory (SCIM) and staff list (CSV import) match them by, and when, why and
    by whom the account was last closed (R14). One per account, made when first needed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_profile")
    # The HR staff number (CSV import; SCIM's enterprise `employeeNumber`).
    staff_number = models.CharField(max_length=50, null=True, blank=True, unique=True)
    # The directory's own id for the person (SCIM `externalId`: Entra ID's object id).
    external_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    deactivation_reason = models.TextField(max_length=1000, blank=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(staff_number=""), name="staffprofile_staff_number_not_empty"),
            models.CheckConstraint(condition=~Q(external_id=""), name="staffprofile_external_id_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Staff profile of {self.user_id}"


class RoleChange(models.Model):
    """Every grant and removal of the DPO and Auditor roles: who, which role, by whom, when
    and why. Written with the change and never edited: the roles' history (R11)."""

    class Action(models.TextChoices):
        GRANTED = "granted", "Given"
        REMOVED = "removed", "Removed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_changes")
    role = models.CharField(max_length=20)
    action = models.CharField(max_length=10, choices=Action.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    at = models.DateTimeField()
    reason = models.TextField(max_length=1000)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=["granted", "removed"]), name="rolechange_action_valid"),
            models.CheckConstraint(condition=~Q(reason=""), name="rolechange_reason_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.action} for {self.user_id}"


class StoredFile(models.Model):
    """An uploaded file kept in the database (`FILE_STORAGE=database`, `groups.storage`), so
    every web host serves the same logo without a shared disk. The bytes travel with the
    row: a change that stores a logo and then rolls back leaves no file behind, and a
    database backup holds the logos too."""

    name = models.CharField(max_length=255, unique=True)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(size__lte=1024 * 1024), name="storedfile_at_most_1_mb"),
        ]

    def __str__(self) -> str:
        return self.name
