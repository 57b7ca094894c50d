"""Django admin: break-glass, read-only. Attestations are immutable (R6); changes go through services."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Cycle, Flag, Hold, HoldNotice, Obligation, SentEmail


class ReadOnlyAdmin(SimpleHistoryAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Cycle)
class CycleAdmin(ReadOnlyAdmin):
    list_display = ("group", "period_start", "period_end", "due_at", "prompted_at", "hold")
    list_filter = ("group",)
    date_hierarchy = "period_end"


@admin.register(Obligation)
class ObligationAdmin(ReadOnlyAdmin):
    list_display = ("user", "cycle", "status", "due_at", "attested_at", "channel")
    list_filter = ("status", "channel")
    search_fields = ("user__username", "user__last_name", "cycle__group__name")
    list_select_related = ("user", "cycle")


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin):
    list_display = ("kind", "user", "cycle", "raised_at", "notified_at", "escalated_at", "resolved_at")
    list_filter = ("kind",)
    list_select_related = ("user", "cycle")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("group", "reference", "placed_by", "placed_at", "lifted_at")
    list_select_related = ("group", "placed_by")


@admin.register(HoldNotice)
class HoldNoticeAdmin(ReadOnlyAdmin):
    list_display = ("hold", "user", "notified_at", "acknowledged_at", "channel", "reminded_at", "escalated_at")
    list_filter = ("channel",)
    search_fields = ("user__username", "user__last_name", "hold__reference")
    list_select_related = ("hold", "user")


@admin.register(SentEmail)
class SentEmailAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "to_address", "subject", "status", "attempts", "sent_at", "group")
    list_filter = ("kind", "status")
    search_fields = ("to_address", "subject", "group__name")
    list_select_related = ("group",)
    date_hierarchy = "created_at"
