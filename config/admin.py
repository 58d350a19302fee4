from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied

from config.models import AuditLogEntry


class HistoryInline(admin.TabularInline):
    """Rows of a parent's history on its page (events, refunds, touchpoints): every field is
    read-only, and no row is added or deleted here. Subclasses set `model` and `fields`."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence nobody edits (audit log, consent records, touchpoints): no add, change or
    delete, for anyone, superusers included."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyFieldsAdmin(admin.ModelAdmin):
    """Records that change only through services (payments, webhook events): every field is
    read-only and nothing is added or deleted here, but staff with the change permission can
    run the model's actions (replay, refund), which call those services."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_id", "action", "actor__username"]
    date_hierarchy = "created_at"


User = get_user_model()
SUPERUSER_ONLY_FIELDS = ("is_superuser", "groups", "user_permissions")


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    """Staff accounts. Only a superuser grants superuser status, groups or permissions, and
    only a superuser edits a superuser (else the password form would hand one over). Every
    change to those and to the status flags is audit logged (config/staff_audit.py)."""

    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [f for f in SUPERUSER_ONLY_FIELDS if f not in fields]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # The read-only fields are not on the form, so a forged POST cannot set them; this
        # refuses any other path that would (a subclass, a later form change).
        if not request.user.is_superuser and change:
            before = User.objects.filter(pk=obj.pk).values("is_superuser").first() or {}
            if obj.is_superuser != before.get("is_superuser", False):
                raise PermissionDenied("Only a superuser grants superuser status.")
        elif not request.user.is_superuser and obj.is_superuser:
            raise PermissionDenied("Only a superuser grants superuser status.")
        super().save_model(request, obj, form, change)
