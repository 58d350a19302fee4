"""The message log in the admin: every email to a buyer, its delivery (queued, sent, failed,
bounced), attempts, errors and history, and a "send again" action. Nothing is added, edited or
deleted here; the action calls the notification services."""

from django.contrib import admin, messages

from checkout.models import Notification, NotificationEvent
from checkout.notifications import notification_resend
from config.admin import HistoryInline, ReadOnlyFieldsAdmin


class NotificationEventInline(HistoryInline):
    model = NotificationEvent
    fields = ["created_at", "from_status", "to_status", "cause", "actor", "detail"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyFieldsAdmin):
    list_display = [
        "created_at", "kind", "to_email", "status", "attempts", "sent_at", "attached",
        "last_error_short",
    ]  # fmt: skip
    list_filter = ["status", "kind"]
    search_fields = ["to_email", "order__reference", "message_id", "key"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    inlines = [NotificationEventInline]
    actions = ["send_again"]

    @admin.display(description="Attached")
    def attached(self, notification):
        return ", ".join(a.get("filename", "") for a in notification.attachments or []) or "—"

    @admin.display(description="Last error")
    def last_error_short(self, notification):
        return notification.last_error[:80]

    @admin.action(
        description="Send again (a new message with the same content)", permissions=["change"]
    )
    def send_again(self, request, queryset):
        for notification in queryset:
            copy = notification_resend(notification_id=notification.pk, actor=request.user)
            self.message_user(
                request, f"{notification.kind} to {copy.to_email}: queued again.", messages.SUCCESS
            )
