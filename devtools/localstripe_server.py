"""Run the Stripe peer: localstripe made as strict as Stripe (devtools/stripe_peer/).

- No pickle of the whole store after every write (it slows each request as data grows,
  notes/localstripe.md §5). With --state-file the store is loaded at start and saved once at
  shutdown instead, so `make run` keeps its Stripe data across restarts.
- Binds 127.0.0.1 only (stock localstripe binds every interface).
- Registers a webhook endpoint with the given secret at start when asked (--webhook-url), as
  localstripe's own `/_config/webhooks` registration; `make run` instead creates one through
  `/v1/webhook_endpoints` with `manage.py stripe_webhook_endpoint`.
- Gives every charge a Radar `outcome` (stock localstripe has none), with Stripe's test cards for
  elevated and highest risk, so the review path runs offline as it does against Stripe.
- Gives intents Stripe's `amount_received` (and charges `amount_captured`), so a partial capture
  records what was taken, not what was authorised.
- --record FILE writes every request stripe-python sends, for the contract test.
"""

import argparse
import logging
import pickle
from pathlib import Path

import localstripe.resources as resources
from aiohttp import web

from devtools import stripe_contract, stripe_peer
from devtools.stripe_peer import events

# Stripe's Radar test cards (https://docs.stripe.com/radar/testing); every other card is normal.
RADAR_TEST_CARDS = {
    "4000000000009235": ("elevated", 79),
    "4000000000004954": ("highest", 95),
    # localstripe only (Stripe has no such test card): a card that needs 3DS and that Radar
    # rates elevated, so a test can let the webhook arrive before the browser's refresh.
    "4000002500003155": ("elevated", 79),
}
NORMAL_RISK = ("normal", 12)


def _charge_outcome(charge) -> dict:
    number = ""
    try:
        number = resources.PaymentMethod._api_retrieve(charge.payment_method)._card_number
    except Exception:  # a legacy card_ source, or a payment method that is gone
        number = ""
    level, score = RADAR_TEST_CARDS.get(number, NORMAL_RISK)
    authorized = getattr(charge, "_authorized", True)
    decline = getattr(charge, "_decline", None)
    return {
        "network_status": "approved_by_network" if authorized else "declined_by_network",
        "reason": decline.decline_code if decline else None,
        "risk_level": level,
        "risk_score": score,
        "seller_message": "Payment complete." if authorized else "The bank declined the payment.",
        "type": "authorized" if authorized else "issuer_declined",
    }


def _amounts_received() -> None:
    """Stripe's `amount_received` on a PaymentIntent and `amount_captured` on its charge (stock
    localstripe has neither): what a capture took, which is less than the amount after a partial
    capture (localstripe records the rest as a refund on the charge)."""
    original_capture = resources.Charge._capture

    def capture(self, amount, on_success=None):
        captured = self.amount if amount is None else int(amount)

        def remember():
            self._amount_captured = captured
            if on_success:
                on_success()

        return original_capture(self, amount, on_success=remember)

    def amount_captured(charge) -> int:
        if charge.status != "succeeded" or not charge.captured:
            return 0
        return getattr(charge, "_amount_captured", charge.amount)

    def amount_received(intent) -> int:
        charge = intent.latest_charge
        return amount_captured(charge) if charge is not None else 0

    resources.Charge._capture = capture
    resources.Charge.amount_captured = property(amount_captured)
    resources.PaymentIntent.amount_received = property(amount_received)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    # 127.0.0.1 everywhere but inside a container, where other services must reach it.
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    parser.add_argument("--state-file", default="")
    parser.add_argument("--api-version", default=stripe_contract.API_VERSION)
    parser.add_argument("--record", default="", help="append the SDK's requests to this file")
    parser.add_argument("--webhook-delay", type=float, default=1.0)
    args = parser.parse_args()

    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    resources.Charge.outcome = property(_charge_outcome)
    _amounts_received()

    import localstripe.webhooks as webhooks_module
    from localstripe.server import app
    from localstripe.webhooks import register_webhook

    stripe_peer.install(
        app,
        api_version=args.api_version,
        record_path=Path(args.record) if args.record else None,
        webhook_delay=args.webhook_delay,
    )

    state_file = Path(args.state_file) if args.state_file else None
    if state_file and state_file.exists():
        try:
            with state_file.open("rb") as f:
                dict.update(resources.store, pickle.load(f))  # noqa: S301 (our own file)
        except Exception as exc:  # a corrupt file must not stop the dev stack
            logging.warning("could not load localstripe state from %s: %s", state_file, exc)

    async def save_state(_app) -> None:
        if state_file:
            state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = state_file.with_suffix(".tmp")
            # Webhook endpoints live as long as the process (devtools/stripe_peer/events.py).
            kept = {
                key: obj
                for key, obj in resources.store.items()
                if not key.startswith(events.ENDPOINT_PREFIX)
            }
            with tmp.open("wb") as f:
                pickle.dump(kept, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(state_file)

    app.on_shutdown.append(save_state)

    async def clear_webhooks(_request):
        # Not in stock localstripe: tests start each case with no endpoint registered.
        webhooks_module._webhooks.clear()
        return web.Response()

    app.router.add_delete("/_config/webhooks", clear_webhooks)

    if args.webhook_url:
        register_webhook("portal", args.webhook_url, args.webhook_secret, None)

    logging.basicConfig(level=logging.WARNING)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
