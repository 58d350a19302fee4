from django.contrib import admin

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
