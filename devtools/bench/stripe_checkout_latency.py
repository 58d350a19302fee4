"""The checkout's two Stripe calls (create the PaymentIntent, confirm it on-session), timed
through payments.gateway and with the bare SDK, interleaved in one process against one Stripe
peer. Run by devtools/bench/scenarios/stripe_checkout.py; prints one JSON object.

    python -m devtools.bench.stripe_checkout_latency --iterations 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    import django

    django.setup()
    import stripe
    from django.conf import settings

    from payments import gateway

    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=10)
    args = parser.parse_args()

    bare = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        stripe_version=settings.STRIPE_API_VERSION,
        max_network_retries=0,
    )
    customer = bare.v1.customers.create(params={"email": "bench@example.com"}).id
    card = bare.v1.payment_methods.attach("pm_card_visa", params={"customer": customer}).id
    run = uuid.uuid4().hex[:8]
    return_url = settings.PORTAL_BASE_URL.rstrip("/") + "/checkout/bench/return/"

    def through_gateway(n: int) -> None:
        intent = gateway.payment_intent_create(
            amount=2_000,
            currency="usd",
            customer=customer,
            payment_method=card,
            metadata={"payment_id": str(n)},
            idempotency_key=f"bench:{run}:gw:{n}:create",
        )
        result = gateway.payment_intent_confirm(
            intent.id, idempotency_key=f"bench:{run}:gw:{n}:confirm", return_url=return_url
        )
        assert result.status == "succeeded", result.status

    def with_the_bare_sdk(n: int) -> None:
        intent = bare.v1.payment_intents.create(
            params={
                "amount": 2_000,
                "currency": "usd",
                "customer": customer,
                "payment_method": card,
                "metadata": {"payment_id": str(n)},
                "capture_method": "automatic",
                "allowed_payment_method_types": ["card"],
                "expand": ["latest_charge"],
            },
            options={"idempotency_key": f"bench:{run}:sdk:{n}:create"},
        )
        result = bare.v1.payment_intents.confirm(
            intent.id,
            params={"expand": ["latest_charge"], "return_url": return_url, "use_stripe_sdk": True},
            options={"idempotency_key": f"bench:{run}:sdk:{n}:confirm"},
        )
        assert result.status == "succeeded", result.status

    timings: dict[str, list[float]] = {"gateway": [], "sdk": []}
    calls = {"gateway": through_gateway, "sdk": with_the_bare_sdk}
    for n in range(args.warm_up + args.iterations):
        # Alternate which goes first, so neither always meets a warmer peer.
        order = ("gateway", "sdk") if n % 2 == 0 else ("sdk", "gateway")
        for name in order:
            started = time.perf_counter()
            calls[name](n)
            if n >= args.warm_up:
                timings[name].append((time.perf_counter() - started) * 1000)
    print(
        json.dumps(
            {
                name: {
                    "p50_ms": statistics.median(values),
                    "p95_ms": _percentile(values, 0.95),
                    "mean_ms": statistics.fmean(values),
                    "count": len(values),
                }
                for name, values in timings.items()
            }
        )
    )


if __name__ == "__main__":
    main()
