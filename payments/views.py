import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import webhooks
from payments.gateway import InvalidWebhook

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def stripe_webhook(request):
    """Acknowledge a Stripe event only once it is stored; process it later in a task."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.STRIPE_WEBHOOK_MAX_BYTES:
        logger.warning("webhook refused: body of %s bytes is over the limit", length)
        return JsonResponse({"error": "payload too large"}, status=413)
    body = request.body
    if len(body) > settings.STRIPE_WEBHOOK_MAX_BYTES:
        logger.warning("webhook refused: body of %s bytes is over the limit", len(body))
        return JsonResponse({"error": "payload too large"}, status=413)
    try:
        # A validly signed body is always stored and acknowledged, even one we cannot read
        # (kept as a dead letter): only a refused signature is answered 400.
        webhooks.webhook_receive(
            body=body, signature_header=request.headers.get("Stripe-Signature", "")
        )
    except InvalidWebhook as exc:
        logger.warning("webhook refused: %s", exc)
        return JsonResponse({"error": str(exc)}, status=400)
    return HttpResponse(b"", status=200)
