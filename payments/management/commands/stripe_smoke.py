"""One checkout, a refund and a webhook round trip against the Stripe account in
STRIPE_SECRET_KEY, through the gateway only: the first real payment, tried before a buyer tries
it. Test mode only: a live key is refused, since it would move real money.

The webhook round trip needs the portal running at PORTAL_BASE_URL, reachable by Stripe, with
an endpoint for it (`manage.py stripe_webhook_endpoint`) whose secret is STRIPE_WEBHOOK_SECRET:
the check is that the `payment_intent.succeeded` of this run reached the portal's inbox.
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from payments import gateway
from payments.models import WebhookEvent

NEEDS = (
    "stripe_smoke needs a Stripe test-mode secret key in STRIPE_SECRET_KEY: sk_test_... or a "
    "restricted rk_test_... key, from https://dashboard.stripe.com/test/apikeys. For the "
    "webhook round trip the portal must also run at PORTAL_BASE_URL, reachable by Stripe, with "
    "the endpoint from `manage.py stripe_webhook_endpoint` and its secret in "
    "STRIPE_WEBHOOK_SECRET."
)


def _key_check(key: str) -> None:
    if not key:
        raise CommandError(NEEDS)
    if key.startswith(("sk_live_", "rk_live_")):
        raise CommandError(
            "STRIPE_SECRET_KEY is a live-mode key: stripe_smoke refuses it, because it would "
            "charge and refund a real card. Use the account's test-mode key (sk_test_...)."
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        raise CommandError(f"STRIPE_SECRET_KEY is not a secret key. {NEEDS}")


class Command(BaseCommand):
    help = (
        "Run one checkout, a refund and a webhook round trip against the Stripe test-mode "
        "account in STRIPE_SECRET_KEY (a live key is refused)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--currency", default="usd", help="three-letter code (default usd)")
        parser.add_argument(
            "--amount",
            type=int,
            help="in the currency's minor units (default: Stripe's minimum for the currency)",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=30.0,
            help="seconds to wait for the webhook to reach the portal (default 30)",
        )

    def handle(self, *args, currency: str, amount: int | None, wait: float, **options):
        _key_check(settings.STRIPE_SECRET_KEY or "")
        currency = currency.lower()
        amount = amount or int(settings.CHECKOUT_MIN_AMOUNTS.get(currency.upper(), 100))
        run = uuid.uuid4().hex[:16]
        where = settings.STRIPE_API_BASE or "https://api.stripe.com"
        self.stdout.write(
            f"Stripe smoke test {run} against {where}, test mode, API version "
            f"{settings.STRIPE_API_VERSION}"
        )
        started = int(time.time())
        try:
            intent_id = self._checkout(run, amount=amount, currency=currency)
            self._refund(run, intent_id=intent_id, amount=amount)
        except gateway.GatewayError as exc:
            raise CommandError(f"Stripe refused or could not be reached: {exc}") from exc
        self._webhook(intent_id, started=started, wait=wait)
        self.stdout.write(self.style.SUCCESS("Stripe smoke test passed."))

    def _checkout(self, run: str, *, amount: int, currency: str) -> str:
        metadata = {"stripe_smoke": run}
        customer = gateway.customer_create(
            email=f"stripe-smoke+{run}@example.com",
            name="Stripe smoke test",
            metadata=metadata,
            idempotency_key=f"stripe-smoke:{run}:customer",
        )
        self.stdout.write(f"  customer       {customer}")
        intent = gateway.payment_intent_create(
            amount=amount,
            currency=currency,
            customer=customer,
            payment_method="pm_card_visa",
            metadata=metadata,
            idempotency_key=f"stripe-smoke:{run}:intent",
        )
        intent = gateway.payment_intent_confirm(
            intent.id,
            idempotency_key=f"stripe-smoke:{run}:confirm",
            return_url=settings.PORTAL_BASE_URL.rstrip("/") + "/",
        )
        if intent.status != "succeeded":
            raise CommandError(
                f"PaymentIntent {intent.id} is {intent.status}, not succeeded "
                f"({intent.last_error_code or 'no error code'}: {intent.last_error_message})"
            )
        self.stdout.write(
            f"  payment        {intent.id} succeeded: {intent.amount} {currency} (minor units)"
        )
        return intent.id

    def _refund(self, run: str, *, intent_id: str, amount: int) -> None:
        refund = gateway.refund_create(
            payment_intent_id=intent_id,
            amount=amount,
            reason="requested_by_customer",
            metadata={"stripe_smoke": run, "reason": "stripe_smoke"},
            idempotency_key=f"stripe-smoke:{run}:refund",
        )
        if refund.status not in ("succeeded", "pending"):
            raise CommandError(f"Refund {refund.id} is {refund.status}")
        self.stdout.write(f"  refund         {refund.id} {refund.status}")

    def _webhook(self, intent_id: str, *, started: int, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            event = WebhookEvent.objects.filter(
                type="payment_intent.succeeded", object_id=intent_id
            ).first()
            if event is not None:
                self.stdout.write(f"  webhook        {event.stripe_event_id} reached the portal")
                return
            time.sleep(0.5)
        try:
            sent = [
                e
                for e in gateway.events_list(created_gte=started - 5, created_lte=int(time.time()))
                if e.get("type") == "payment_intent.succeeded"
                and (e.get("data") or {}).get("object", {}).get("id") == intent_id
            ]
        except gateway.GatewayError:
            sent = []
        if sent:
            raise CommandError(
                f"Stripe sent {sent[0]['id']} (payment_intent.succeeded), but it did not reach "
                f"the portal's inbox within {wait:.0f} s. Check that {settings.PORTAL_BASE_URL} "
                "is reachable by Stripe, that `manage.py stripe_webhook_endpoint` registered it, "
                "and that STRIPE_WEBHOOK_SECRET is that endpoint's secret."
            )
        raise CommandError(
            f"No payment_intent.succeeded for {intent_id} within {wait:.0f} s, at Stripe or in "
            "the portal's inbox."
        )
