"""Weekly clear-down cycles, obligations and attestations (docs/rules.md, R4–R10).

A `Cycle` is one seven-day period of one group, created when the period ends. Each person
who owed a clear-down for it has one `Obligation`, which becomes their attestation. A
`Flag` is both the queue of overdue alerts and their history. A `Hold` stops clear-downs
of a group while information must be kept (FOI Act 2000 s.77). `SentEmail` records every
email the portal sends.

No message content is stored anywhere (R10): only who attested what and when.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from simple_history.models import HistoricalRecords

from groups.models import ChatGroup, GroupReview, PolicyAcknowledgement


class HoldQuerySet(models.QuerySet):
    def standing(self) -> HoldQuerySet:
        """Holds placed and not yet lifted: at most one per group (a constraint)."""
        return self.filter(lifted_at__isnull=True)

    def standing_on(self, group_path: str = "cycle__group") -> Exists:
        """True where the group at `group_path` of the outer query has a standing hold."""
        return Exists(self.standing().filter(group=OuterRef(group_path)))


class Hold(models.Model):
    group = models.ForeignKey(ChatGroup, on_delete=models.PROTECT, related_name="holds")
    reference = models.CharField(max_length=100, help_text="The FOI request, case or legal reference.")
    reason = models.TextField(max_length=2000)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField()
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(max_length=2000, blank=True)
    # The admin (or the DPO) confirms they posted the hold message in the WhatsApp group:
    # members who do not read their email see it there (issue 20).
    chat_posted_at = models.DateTimeField(null=True, blank=True)
    chat_posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # When the DPO was last asked to review a long-standing hold (HOLD_REVIEW_DAYS), the
    # claim of the sweep's review step: one reminder per period.
    review_reminded_at = models.DateTimeField(null=True, blank=True)
    # A group whose chat WhatsApp's 7-day timer clears (R17): the timer would delete what the
    # hold must keep, so its admin must turn it off at once and say so here.
    timer_off_required = models.BooleanField(default=False)
    timer_off_at = models.DateTimeField(null=True, blank=True)
    timer_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = HoldQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["group"], condition=Q(lifted_at__isnull=True), name="hold_one_active_per_group"
            ),
            models.CheckConstraint(condition=~Q(reference=""), name="hold_reference_not_empty"),
            models.CheckConstraint(condition=~Q(reason=""), name="hold_reason_not_empty"),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True, lifted_by__isnull=True)
                | Q(lifted_at__isnull=False, lifted_by__isnull=False, lifted_at__gte=F("placed_at")),
                name="hold_lifted_consistent",
            ),
        ]
        permissions = [("place_hold", "Can place and lift FOI and legal holds on groups")]

    def __str__(self) -> str:
        return f"Hold {self.reference} on {self.group_id}"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class HoldNotice(models.Model):
    """One person told of one hold: when, whether and how they acknowledged it (issue 20).

    Made for every member of the group when the hold is placed, and for anyone who joins
    while it stands. Its nullable times are the sweep's claims (`... WHERE reminded_at IS
    NULL`), so each member is reminded once, escalated once and told of the release once.
    """

    class Channel(models.TextChoices):
        WEB = "web", "Home page"
        EMAIL = "email", "Email link"

    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hold_notices")
    notified_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["hold", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["hold", "user"], name="holdnotice_one_per_person"),
            models.CheckConstraint(condition=Q(channel__in=["", "web", "email"]), name="holdnotice_channel_valid"),
            # An acknowledgement has its time and its channel, or neither.
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True, channel="")
                | (Q(acknowledged_at__isnull=False, acknowledged_at__gte=F("notified_at")) & ~Q(channel="")),
                name="holdnotice_acknowledged_complete",
            ),
        ]
        indexes = [
            # The sweep's reminders and escalations: notices not yet acknowledged, by age.
            models.Index(
                fields=["notified_at"], name="holdnotice_unacked_idx", condition=Q(acknowledged_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"Hold notice of hold {self.hold_id} to {self.user_id}"


class Cycle(models.Model):
    """One seven-day period [period_start, period_end) of one group, stored in UTC."""

    group = models.ForeignKey(ChatGroup, on_delete=models.PROTECT, related_name="cycles")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    prompt_due_at = models.DateTimeField(help_text="When the admin's prompt is due by (R5).")
    due_at = models.DateTimeField(help_text="The members' deadline: period end plus the grace period.")
    prompted_at = models.DateTimeField(null=True, blank=True)
    prompted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Set when the cycle closed under a hold, or when a hold was placed while it was open.
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="cycles")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-period_end", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["group", "period_start"], name="cycle_unique_start"),
            models.UniqueConstraint(fields=["group", "period_end"], name="cycle_unique_end"),
            models.CheckConstraint(condition=Q(period_end__gt=F("period_start")), name="cycle_period_positive"),
            models.CheckConstraint(condition=Q(due_at__gte=F("period_end")), name="cycle_due_after_end"),
            models.CheckConstraint(
                condition=Q(prompt_due_at__gte=F("period_end"), prompt_due_at__lte=F("due_at")),
                name="cycle_prompt_due_in_grace",
            ),
            models.CheckConstraint(
                condition=Q(prompted_at__isnull=True, prompted_by__isnull=True)
                | Q(prompted_at__isnull=False, prompted_by__isnull=False),
                name="cycle_prompted_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "-period_end"], name="cycle_group_end_idx"),
            models.Index(fields=["prompt_due_at"], name="cycle_unprompted_idx", condition=Q(prompted_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.period_start:%Y-%m-%d} to {self.period_end:%Y-%m-%d}"

    @property
    def is_held(self) -> bool:
        return self.hold_id is not None


class Obligation(models.Model):
    """What one person owes for one cycle; once attested, it is their attestation (R6)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Due"
        ATTESTED = "attested", "Done"
        LATE = "late", "Done late"
        EXCUSED = "excused", "Excused"
        HELD = "held", "On hold"
        # The person left the organisation while it was open (R14): not overdue, not done.
        LEFT = "left", "Left the organisation"

    class Channel(models.TextChoices):
        WEB = "web", "Web form"
        EMAIL = "email", "Email link"
        # The emailed link used without signing in: the signed link named this one
        # obligation and its owner, and authenticated that one action (issue 15).
        EMAIL_ANON = "email_anon", "Email link, not signed in"

    DONE = (Status.ATTESTED, Status.LATE)

    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="obligations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="obligations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # A copy of the cycle's deadline, so the overdue sweep reads one indexed table.
    due_at = models.DateTimeField()
    attested_at = models.DateTimeField(null=True, blank=True)
    cleared_on = models.DateField(null=True, blank=True)
    confirmed_cleared = models.BooleanField(default=False)
    confirmed_saved = models.BooleanField(default=False)
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    # Where the member saved any business information before clearing (a case number, a
    # system's name): optional evidence, never required. Not in the ledger's payload. The
    # database default covers rows written without it (bulk loads, a process of the release
    # before still running during an upgrade).
    where_saved = models.CharField(max_length=200, blank=True, default="", db_default="")
    excused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    excused_at = models.DateTimeField(null=True, blank=True)
    excuse_reason = models.TextField(max_length=1000, blank=True)
    # Set when the admin's prompt records this member's prompt email (a `SentEmail`), once.
    prompt_emailed_at = models.DateTimeField(null=True, blank=True)
    # Claimed the same way by the reminder sweep: one reminder per obligation.
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "user"], name="obligation_one_per_person"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "attested", "late", "excused", "held", "left"]),
                name="obligation_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["", "web", "email", "email_anon"]), name="obligation_channel_valid"
            ),
            # Only an attestation says where its information was saved.
            models.CheckConstraint(
                condition=Q(status__in=["attested", "late"]) | Q(where_saved=""),
                name="obligation_where_saved_only_attested",
            ),
            # An attestation is complete or it does not exist: both confirmations, a date,
            # a time and a channel (R6).
            models.CheckConstraint(
                condition=(
                    Q(
                        status__in=["attested", "late"],
                        attested_at__isnull=False,
                        cleared_on__isnull=False,
                        confirmed_cleared=True,
                        confirmed_saved=True,
                    )
                    & ~Q(channel="")
                )
                | (
                    ~Q(status__in=["attested", "late"])
                    & Q(
                        attested_at__isnull=True,
                        cleared_on__isnull=True,
                        confirmed_cleared=False,
                        confirmed_saved=False,
                        channel="",
                    )
                ),
                name="obligation_attestation_complete",
            ),
            models.CheckConstraint(
                condition=Q(status="late", attested_at__gt=F("due_at"))
                | Q(status="attested", attested_at__lte=F("due_at"))
                | ~Q(status__in=["attested", "late"]),
                name="obligation_late_means_after_deadline",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="excused", excused_by__isnull=False, excused_at__isnull=False) & ~Q(excuse_reason="")
                )
                | (~Q(status="excused") & Q(excused_by__isnull=True, excused_at__isnull=True, excuse_reason="")),
                name="obligation_excuse_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="obligation_user_status_idx"),
            models.Index(fields=["status", "due_at"], name="obligation_status_due_idx"),
            # Dashboard (attestations/stats.py): `trend` counts a range of deadlines by status
            # from this index alone, without reading the table.
            models.Index(fields=["due_at", "status"], name="obligation_due_status_idx"),
            # Dashboard: `group_table`, `group_strips` and `group_drilldown` count a cycle's
            # obligations by status and deadline from this index alone.
            models.Index(fields=["cycle", "status", "due_at"], name="obligation_cycle_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} for cycle {self.cycle_id}"

    @property
    def is_done(self) -> bool:
        return self.status in self.DONE

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING


class CycleCount(models.Model):
    """How many of a cycle's obligations are in each status: the dashboard's counts.

    Derived, never written by the portal: database triggers (migration 0006) keep it in
    step with every insert, update and delete of a cycle or an obligation, in the same
    transaction, whatever wrote them (services, bulk loads, the admin, a data fix).
    `counts.cycle_counts_rebuild()` recomputes it from scratch and `cycle_counts_check()`
    lists the cycles whose counts disagree with their obligations.

    Overdue and outstanding are both `n_pending`, told apart by `due_at` at reading time:
    every obligation of a cycle has the cycle's deadline.
    """

    cycle = models.OneToOneField(Cycle, on_delete=models.DO_NOTHING, primary_key=True, related_name="counts")
    # Copies of the cycle's, so the dashboard reads one narrow table.
    group = models.ForeignKey(ChatGroup, on_delete=models.DO_NOTHING, related_name="cycle_counts")
    period_end = models.DateTimeField()
    due_at = models.DateTimeField()
    n_pending = models.IntegerField(default=0)
    n_attested = models.IntegerField(default=0)
    n_late = models.IntegerField(default=0)
    n_excused = models.IntegerField(default=0)
    n_held = models.IntegerField(default=0)
    n_left = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    n_pending__gte=0, n_attested__gte=0, n_late__gte=0, n_excused__gte=0, n_held__gte=0, n_left__gte=0
                ),
                name="cyclecount_not_negative",
            ),
        ]
        indexes = [
            # `stats.trend`: the cycles of a range of deadlines.
            models.Index(fields=["due_at"], name="cyclecount_due_idx"),
            # `stats.group_strips` and drill-downs: a group's recent cycles.
            models.Index(fields=["group", "period_end"], name="cyclecount_group_end_idx"),
            # The dashboard's table: every group's cycle that ended in one week.
            models.Index(fields=["period_end"], name="cyclecount_end_idx"),
        ]

    def __str__(self) -> str:
        return f"counts of cycle {self.cycle_id}"


class Flag(models.Model):
    """An overdue obligation, a missed prompt or an overdue group review: the queue of
    alerts and their history (R8, R16). A clear-down flag is about one cycle; a review flag
    about one review (and no cycle)."""

    class Kind(models.TextChoices):
        MEMBER_OVERDUE = "member_overdue", "Clear-down overdue"
        PROMPT_MISSED = "prompt_missed", "Prompt not issued"
        REVIEW_OVERDUE = "review_overdue", "Group review overdue"
        TIMER_NOT_OFF = "timer_not_off", "Hold: disappearing messages not turned off"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="flags", null=True, blank=True)
    review = models.ForeignKey(GroupReview, on_delete=models.PROTECT, related_name="flags", null=True, blank=True)
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="flags", null=True, blank=True)
    # A copy of the cycle's group (which never changes), so the dashboard counts a group's
    # flags from this table alone; `counts.flag_groups_check` finds any that disagree.
    group = models.ForeignKey(ChatGroup, on_delete=models.PROTECT, related_name="+")
    # The member who is overdue, or the admin who did not prompt.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="flags")
    raised_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "user", "kind"], name="flag_one_per_subject"),
            # A review sent back and overdue again is a new flag, so only one is open at a time.
            models.UniqueConstraint(
                fields=["review", "kind"], condition=Q(resolved_at__isnull=True), name="flag_one_open_per_review"
            ),
            models.UniqueConstraint(
                fields=["hold", "kind"], condition=Q(resolved_at__isnull=True), name="flag_one_open_per_hold"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["member_overdue", "prompt_missed", "review_overdue", "timer_not_off"]),
                name="flag_kind_valid",
            ),
            # A clear-down flag is about a cycle, a review's about a review, a timer's about a hold.
            models.CheckConstraint(
                condition=Q(kind="review_overdue", cycle__isnull=True, review__isnull=False, hold__isnull=True)
                | Q(kind="timer_not_off", cycle__isnull=True, review__isnull=True, hold__isnull=False)
                | (
                    Q(kind__in=["member_overdue", "prompt_missed"])
                    & Q(cycle__isnull=False, review__isnull=True, hold__isnull=True)
                ),
                name="flag_subject_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("raised_at")),
                name="flag_resolved_after_raised",
            ),
        ]
        indexes = [
            models.Index(fields=["raised_at"], name="flag_open_idx", condition=Q(resolved_at__isnull=True)),
            # `stats.group_table`: a group's open flags by kind, from the index alone.
            models.Index(fields=["group", "kind"], name="flag_group_open_idx", condition=Q(resolved_at__isnull=True)),
            # `stats._table_rows`: the prompts a group missed in the dashboard's dates, from the index alone.
            models.Index(
                fields=["group", "raised_at"], name="flag_group_missed_idx", condition=Q(kind="prompt_missed")
            ),
        ]

    def __str__(self) -> str:
        about = f"cycle {self.cycle_id}" if self.cycle_id else f"review {self.review_id}"
        if self.hold_id:
            about = f"hold {self.hold_id}"
        return f"{self.get_kind_display()}: {self.user} ({about})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class SentEmail(models.Model):
    """Every email the portal sends, or tried to send: who, what, when and the result (R8).

    A row is written before the email goes out (status pending) and is the email's claim:
    the task that sends it locks the row and skips it once sent, so a retried or
    duplicated task never sends it twice. `key` names what the email is about (one
    reminder per obligation, one digest per batch of flags, one summary per DPO per
    week); at most one row per key is pending or sent, so a second sweep cannot queue
    the same email again. A row that failed for good keeps its error and frees the key.
    """

    class Kind(models.TextChoices):
        PROMPT = "prompt", "Prompt to clear the chat"
        REMINDER = "reminder", "Reminder before the deadline"
        ADMIN_DIGEST = "admin_digest", "Overdue digest to the group admin"
        DPO_ESCALATION = "dpo_escalation", "Escalation to the DPO"
        DPO_SUMMARY = "dpo_summary", "Weekly summary to the DPO"
        HOLD_NOTICE = "hold_notice", "Hold notice: do not clear"
        HOLD_REMINDER = "hold_reminder", "Hold notice reminder"
        HOLD_ESCALATION = "hold_escalation", "Hold not acknowledged, to the DPO"
        HOLD_REVIEW = "hold_review", "Long-standing hold, to the DPO"
        HOLD_RELEASE = "hold_release", "Hold released: clear-downs resume"
        ADMIN_LEFT = "admin_left", "A group's admin left, to the DPO"
        POLICY_REMINDER = "policy_reminder", "Reminder to acknowledge the policy"
        POLICY_OVERDUE = "policy_overdue", "Policy acknowledgements overdue, to the group admin"
        REVIEW_RETURNED = "review_returned", "Group review sent back, to the admin"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Not sent"

    key = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="emails_received"
    )
    to_address = models.EmailField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    group = models.ForeignKey(ChatGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="emails")
    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, null=True, blank=True, related_name="emails")
    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, null=True, blank=True, related_name="emails")
    # The flags a digest or an escalation reports; each flag is in one digest and one escalation.
    flags = models.ManyToManyField(Flag, blank=True, related_name="emails")
    # The policy acknowledgements a policy email is about (R15): one in a reminder, each
    # newly overdue one of the admin's groups in an overdue digest.
    policy_acks = models.ManyToManyField(PolicyAcknowledgement, blank=True, related_name="emails")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempted_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # When its send task was last handed to the broker: the sweep queues a pending email
    # again only once this is EMAIL_REQUEUE_MINUTES old, so sweeps that run back to back
    # (a worker catching up after an outage) do not each queue every pending email again.
    queued_at = models.DateTimeField(null=True, blank=True)
    # Not sent for a reason that may pass (the mail server down through every attempt, no
    # address yet): a later sweep makes the same email again once it can be sent.
    retry_later = models.BooleanField(default=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(status__in=["pending", "sent"]), name="sentemail_one_live_per_key"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "prompt",
                        "reminder",
                        "admin_digest",
                        "dpo_escalation",
                        "dpo_summary",
                        "hold_notice",
                        "hold_reminder",
                        "hold_escalation",
                        "hold_review",
                        "hold_release",
                        "admin_left",
                        "policy_reminder",
                        "policy_overdue",
                        "review_returned",
                    ]
                ),
                name="sentemail_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed", "cancelled"]), name="sentemail_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="sentemail_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "-created_at"], name="sentemail_group_idx"),
            models.Index(fields=["cycle", "-created_at"], name="sentemail_cycle_idx"),
            # The sweep re-queues emails still pending (a broker outage lost their task).
            models.Index(fields=["created_at"], name="sentemail_pending_idx", condition=Q(status="pending")),
            # The emails page, newest first, a page at a time from a position (keyset paging):
            # every email, or those of one status or one kind.
            models.Index(fields=["created_at", "id"], name="sentemail_newest_idx"),
            models.Index(fields=["status", "created_at", "id"], name="sentemail_status_newest_idx"),
            models.Index(fields=["kind", "created_at", "id"], name="sentemail_kind_newest_idx"),
            # The dashboard's count of emails that failed for good lately: a small share.
            models.Index(
                fields=["attempted_at", "created_at"], name="sentemail_failed_idx", condition=Q(status="failed")
            ),
            # The sweep's notices and summaries made again: emails given back for a reason
            # that may pass (a handful), found by key without reading every email.
            models.Index(fields=["key"], name="sentemail_retry_later_idx", condition=Q(retry_later=True)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to_address or self.user_id} ({self.get_status_display()})"


class SentEmailCount(models.Model):
    """How many emails there are of each kind and status: the emails page's counts.

    Derived, never written by the portal: database triggers (migration 0019,
    `dashboard/email_counts.py`) apply every insert, update of kind or status, and delete
    of an email in the same transaction, whatever wrote it (the outbox, a send, retention,
    a data fix). `email_counts_rebuild()` recomputes it and `email_counts_check()` lists
    the pairs that disagree with the emails (`manage.py email_counts`). A pair with no
    email left may stay at 0.

    No check that `n` stays at or above 0, unlike `CycleCount`: a count that had drifted
    would then refuse the UPDATE that marks an email sent, after the mail server took it,
    and the email would go out again. A wrong count is found by the check instead.
    """

    # No choices: a kind added later needs no migration of this table.
    kind = models.CharField(max_length=20)
    status = models.CharField(max_length=10)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # The triggers' upsert names these columns (ON CONFLICT (kind, status)).
            models.UniqueConstraint(fields=["kind", "status"], name="sentemailcount_one_per_kind_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status}: {self.n}"


class Heartbeat(models.Model):
    """The last time a background process showed it was alive, one row per process kind.

    The worker records `worker` from a tiny task that beat schedules; the sweep records
    `sweep` when it has run. `/healthz/status` reports each as stale after two of its
    intervals, so monitoring can tell a stopped worker or beat from a quiet week.
    """

    name = models.CharField(max_length=20, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M}"


class BeatTick(models.Model):
    """One run of a beat-scheduled task per slot of its schedule (a 15-minute sweep slot).

    Beat must run once, but two started by mistake (two hosts, a restart that left the old
    one running) each send every task. The first run in a slot inserts its row and does the
    work; any other finds the row (the unique constraint) and does nothing, so each tick has
    one effect however many beats sent it. `ran_at - slot` is how late the run started (the
    beat lag the metrics report).
    """

    task = models.CharField(max_length=60)
    slot = models.DateTimeField()
    ran_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "slot"], name="beattick_one_per_slot")]

    def __str__(self) -> str:
        return f"{self.task} for {self.slot:%Y-%m-%d %H:%M}"


class LedgerEntry(models.Model):
    """One link of the tamper-evident chain of attestations (issue 6).

    Written in the same transaction as the attestation, never changed afterwards. `hash` is
    SHA-256 over the attestation's own fields, this entry's sequence number and the previous
    entry's hash (`attestations.ledger`), so editing, deleting or reordering any attestation
    or entry breaks the chain from that point on. Appends are serialised and `sequence` and
    `prev_hash` are unique, so two attestations at once can never fork the chain.
    """

    sequence = models.PositiveBigIntegerField(unique=True)
    obligation = models.OneToOneField(Obligation, on_delete=models.PROTECT, related_name="ledger_entry")
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)
    # Which of the attestation's fields `hash` covers (`ledger.PAYLOAD_FIELDS_BY_VERSION`).
    # The database default is 1, the first release's fields: entries written before the
    # column existed, or by a process of that release still running during an upgrade,
    # were hashed that way. The portal writes the current version explicitly.
    payload_version = models.PositiveSmallIntegerField(db_default=1)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["sequence"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(sequence__gte=1), name="ledgerentry_sequence_positive"),
        ]

    def __str__(self) -> str:
        return f"Ledger #{self.sequence}"


class ExportLog(models.Model):
    """Every export of the record: who took what, with which filters, and the file's SHA-256.

    The row is written when the download starts, so an interrupted download is still on
    record; `finished_at`, `rows`, `size` and `sha256` are filled in when the last byte
    has been produced.
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel (XLSX)"
        ZIP = "zip", "Zip of CSV files"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exports")
    kind = models.CharField(max_length=20)
    format = models.CharField(max_length=4, choices=Format.choices)
    filters = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveBigIntegerField(null=True, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["-started_at"], name="exportlog_started_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.format} by {self.user_id} at {self.started_at:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """A person's secret calendar address: their clear-down deadlines as an iCal feed (issue 15).

    The token is the only key to the feed, so it is long and random; resetting it makes a
    new one and the old address answers 404 from then on.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    reset_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id}"


class LedgerCheckpoint(models.Model):
    """A run of ledger entries disposed of under the retention schedule (R18), kept as its seal.

    The entries `first_sequence`..`last_sequence` are gone with their attestations; what is
    kept is the hash they chained onto (`prev_hash`) and the hash of the last one (`hash`),
    so `ledger.ledger_verify` steps over the gap: the entry after it must chain onto `hash`,
    and the checkpoint onto the entry before it. Neighbouring runs are merged into one row.
    """

    first_sequence = models.PositiveBigIntegerField(unique=True)
    last_sequence = models.PositiveBigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    disposed_at = models.DateTimeField()
    # When a later disposal last joined a neighbouring run onto this one.
    extended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["first_sequence"]
        constraints = [
            models.CheckConstraint(condition=Q(first_sequence__gte=1), name="ledgercheckpoint_first_positive"),
            models.CheckConstraint(
                condition=Q(last_sequence__gte=F("first_sequence")), name="ledgercheckpoint_range_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"Ledger checkpoint #{self.first_sequence}–#{self.last_sequence}"

    @property
    def entries(self) -> int:
        return self.last_sequence - self.first_sequence + 1


class DisposalRecord(models.Model):
    """What one run of the retention schedule disposed of, or would have (R18).

    One row per kind of record per run, written by the run and never changed afterwards: the
    rule it applied (`period_days` after `counted_from`, so records whose time ended before
    `cutoff`), how many records went (`count`, with the rows that went with them in
    `details`), the dates of the oldest and newest of them, and how many past their time
    were kept because a hold covers their group (`held_back`). Kept for good and exported.
    """

    run_started_at = models.DateTimeField()
    kind = models.CharField(max_length=30)
    rule = models.CharField(max_length=255)
    period_days = models.PositiveIntegerField()
    cutoff = models.DateTimeField()
    dry_run = models.BooleanField(default=False)
    count = models.PositiveBigIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)
    held_back = models.PositiveBigIntegerField(default=0)
    oldest = models.DateTimeField(null=True, blank=True)
    newest = models.DateTimeField(null=True, blank=True)
    batches = models.PositiveIntegerField(default=0)
    # The longest of the run's transactions for this kind: the figure that shows no lock was held long.
    longest_batch_ms = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ["-run_started_at", "kind", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["run_started_at", "kind", "dry_run"], name="disposal_one_per_kind_per_run"),
            models.CheckConstraint(condition=Q(finished_at__gte=F("run_started_at")), name="disposal_finished_after"),
        ]
        indexes = [models.Index(fields=["-run_started_at"], name="disposal_run_idx")]

    def __str__(self) -> str:
        what = "would dispose of" if self.dry_run else "disposed of"
        return f"{self.kind}: {what} {self.count} ({self.run_started_at:%Y-%m-%d %H:%M})"
