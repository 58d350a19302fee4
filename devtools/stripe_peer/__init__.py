"""A Stripe peer as strict as Stripe, on top of localstripe (never edited in site-packages).

devtools/localstripe_server.py runs it; `make run`, the tests and the bench start it through
devtools.embedded.EmbeddedLocalstripe. What it adds to localstripe, by module:

- strict.py: requests judged by stripe-python's own parameter types (the same judge as the
  contract test, devtools/stripe_contract.py) and refused in Stripe's error shape;
  idempotency keys honoured; the SDK's requests recorded for the contract test.
- api.py: the endpoints answered as Stripe answers them at the pinned version (current
  parameters, minimums, refund limits, lists filtered by `created`, object shapes).
- cards.py: Stripe's test PaymentMethods, decline codes on- and off-session, 3D Secure, and a
  test control that makes a saved card decline later.
- events.py: events at the pinned API version; `/v1/webhook_endpoints` and delivery by each
  endpoint's `enabled_events`, secret and version.
- money.py: currencies, minor units, minimum and maximum amounts.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from devtools.stripe_peer import api, cards, events
from devtools.stripe_peer.strict import Strict


def install(
    app: web.Application,
    *,
    api_version: str,
    record_path: Path | None = None,
    webhook_delay: float = 1.0,
) -> Strict:
    """Patch localstripe's objects and wrap its app. Call once, before the app starts."""
    cards.install()
    api.install()
    events.install(api_version=api_version, delay=webhook_delay)
    strict = Strict(record_path)
    app.middlewares.append(strict.middleware)
    cards.routes(app)
    return strict
