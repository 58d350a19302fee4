"""Bounce reports from the mail provider: POST /webhooks/email/bounce/.

A small, provider-neutral hook: JSON `{"message_id": "...", "reason": "...", "event_id": "..."}`
with the shared secret in `X-Bounce-Secret` (settings.EMAIL_BOUNCE_WEBHOOK_SECRET; no secret, no
view). With django-anymail, its tracking webhooks send the `anymail.signals.tracking` signal;
`anymail_tracking_receiver` below records a bounce the same way, connected by CheckoutConfig
when anymail is installed.
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from checkout.notifications.delivery import notification_bounce_record

MAX_BODY = 64 * 1024


@csrf_exempt
@require_POST
def email_bounce(request: HttpRequest) -> JsonResponse:
    secret = settings.EMAIL_BOUNCE_WEBHOOK_SECRET
    given = request.headers.get("X-Bounce-Secret", "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"error": "not allowed"}, status=403)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": "too large"}, status=413)
    try:
        data = json.loads(request.body or b"{}")
        message_id = str(data["message_id"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "send JSON with a message_id"}, status=400)
    notification = notification_bounce_record(
        message_id=message_id,
        reason=str(data.get("reason") or "")[:500],
        event_id=str(data.get("event_id") or "")[:100],
    )
    return JsonResponse({"recorded": notification is not None})


def anymail_tracking_receiver(sender, event, esp_name, **kwargs) -> None:
    """django-anymail's normalised tracking event: bounced, rejected and failed are bounces."""
    if getattr(event, "event_type", "") in ("bounced", "rejected", "failed"):
        notification_bounce_record(
            message_id=str(getattr(event, "message_id", "") or ""),
            reason=str(getattr(event, "description", "") or getattr(event, "reject_reason", "")),
            source=f"anymail_{esp_name}".lower(),
            event_id=str(getattr(event, "event_id", "") or ""),
        )
