from django.contrib import admin

from config.models import AuditLogEntry

admin.site.site_header = "Lead-to-cash portal"
admin.site.site_title = "Portal admin"
admin.site.index_title = "Work queues"


class HistoryInline(admin.TabularInline):
    """Rows of a parent's history on its page (events, refunds, touchpoints): every field is
    read-only, and no row is added or deleted here. Subclasses set `model` and `fields`."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_id", "action", "actor__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
