"""Django admin: break-glass access for IT. Day-to-day changes go through the portal's pages.

Nothing here deletes: a group leaves the register by being retired, a person leaves a group
by their membership being ended, and both keep their history (R7, R11).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from simple_history.admin import SimpleHistoryAdmin

from . import staff
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


class StaffUserAdmin(UserAdmin):
    """Django's user admin, except that ticking or unticking "Active" closes or opens the
    account through the same service as every other way (R14): a leaver closed here leaves
    their groups and their clear-downs close, exactly as from the staff page."""

    def save_model(self, request, obj, form, change):
        if not (change and "is_active" in form.changed_data):
            return super().save_model(request, obj, form, change)
        wanted = obj.is_active
        obj.is_active = not wanted  # the other fields first; the service changes the status
        super().save_model(request, obj, form, change)
        try:
            if wanted:
                staff.user_reactivate(user=obj, by=request.user, reason="Opened again in the Django admin")
            else:
                staff.user_deactivate(user=obj, by=request.user, reason="Closed in the Django admin")
        except ValidationError as exc:
            self.message_user(request, f"The account was not changed: {' '.join(exc.messages)}", messages.ERROR)
        obj.refresh_from_db(fields=["is_active"])


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), StaffUserAdmin)
