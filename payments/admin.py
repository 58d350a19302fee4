from django.contrib import admin

from payments.models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "type", "stripe_event_id", "status", "attempts"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_event_id"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
