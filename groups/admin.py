"""Django admin: break-glass access for IT. Day-to-day changes go through the portal's pages.

Nothing here deletes: a group leaves the register by being retired, a person leaves a group
by their membership being ended, and both keep their history (R7, R11).
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import ChatGroup, ExternalIdentity, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "group"
    extra = 0
    fields = ("user", "joined_at", "left_at")
    raw_id_fields = ("user",)
    can_delete = False


class NoDeleteAdmin(SimpleHistoryAdmin):
    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChatGroup)
class ChatGroupAdmin(NoDeleteAdmin):
    list_display = ("name", "status", "admin", "deputy", "cycle_weekday", "cycle_time", "updated_at")
    list_filter = ("status", "cycle_weekday")
    search_fields = ("name", "purpose")
    raw_id_fields = ("admin", "deputy", "proposed_by", "approved_by")
    inlines = [MembershipInline]
    history_list_display = ("status", "status_reason")


@admin.register(Membership)
class MembershipAdmin(NoDeleteAdmin):
    list_display = ("user", "group", "joined_at", "left_at")
    list_filter = ("group",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "group__name")
    raw_id_fields = ("user", "group", "added_by", "removed_by")


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(SimpleHistoryAdmin):
    """IT unlinks an identity here (a person re-created in the directory gets a new subject id);
    the next sign-in then links again by the rule of OIDC_LINK_BY."""

    list_display = ("user", "issuer", "subject", "linked_by", "linked_at", "last_sign_in_at", "provider_roles")
    search_fields = ("user__username", "user__email", "subject")
    raw_id_fields = ("user",)
    readonly_fields = ("last_sign_in_at", "provider_roles")
