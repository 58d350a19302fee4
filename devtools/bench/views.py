"""The bench's baselines, mounted only by devtools/bench/urls.py."""

import hashlib

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from leads.models import ConsentRecord, Lead, Touchpoint
from payments import gateway, webhooks

PURPOSES = ["terms", "marketing_email", "sms"]


def bench_bare(request: HttpRequest) -> HttpResponse:
    """A bare view: the ceiling of the server itself."""
    return HttpResponse(b"ok", content_type="text/plain")


@require_POST
def bench_lead_baseline(request: HttpRequest) -> HttpResponse:
    """The lead form's writes in the plainest ORM code: the same POST (CSRF checked by the same
    middleware), get or create the lead, one touchpoint, three consent records and the lead's
    pointers to them saved, in one transaction, then a 303. No validation, limits, consent
    wording or policy read, risk, readiness, SLA or intake."""
    data = request.POST
    now = timezone.now()
    with transaction.atomic():
        lead, _ = Lead.objects.select_for_update().get_or_create(
            email=data["email"].strip().lower(), defaults={"name": data.get("name", "")}
        )
        touchpoint = Touchpoint.objects.create(
            lead=lead,
            created_at=now,
            source_form="bench",
            utm_source=data.get("utm_source", ""),
            utm_medium=data.get("utm_medium", ""),
            landing_page=data.get("landing_page", ""),
            ip=request.META.get("REMOTE_ADDR"),
        )
        records = ConsentRecord.objects.bulk_create(
            ConsentRecord(
                lead=lead,
                sequence=lead.consent_chain_length + n,
                purpose=purpose,
                decision="granted" if data.get(f"consent_{purpose}") else "not_given",
                method="form",
                consent_text_id=int(data[f"consent_text_{purpose}"]),
                created_at=now,
                record_hash=hashlib.sha256(f"{lead.pk}:{n}:{now}".encode()).hexdigest(),
            )
            for n, purpose in enumerate(PURPOSES, start=1)
        )
        lead.first_touch = lead.first_touch or touchpoint
        lead.last_touch = touchpoint
        lead.submissions += 1
        lead.consent_chain_length += len(records)
        lead.consent_chain_head = records[-1].record_hash
        lead.save()
    response = HttpResponseRedirect("/start/thanks/")
    response.status_code = 303
    return response


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def bench_webhook_minimal(request: HttpRequest) -> HttpResponse:
    """The least a durable acknowledgement can do: verify the signature and insert the body into
    the same inbox table (`ON CONFLICT DO NOTHING`), and nothing else: no size check, no
    dead-letter path, no enqueue."""
    try:
        payload = gateway.webhook_payload_verify(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature", "")
        )
    except gateway.InvalidWebhook:
        return HttpResponse(b"", status=400)
    webhooks.webhook_event_store(payload=payload, body=request.body)
    return HttpResponse(b"", status=200)
