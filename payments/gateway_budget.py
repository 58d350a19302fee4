"""What every call to Stripe carries, without the SDK: the time budget of the web request in
progress, this installation's id, and the request options (idempotency key, retries) built from
them. payments/gateway.py, the only module that imports `stripe`, reads them for each call.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

# The time budget of the web request in progress: a monotonic deadline, or None outside one.
_deadline: ContextVar[float | None] = ContextVar("stripe_deadline", default=None)


@contextmanager
def call_budget(seconds: float) -> Iterator[None]:
    """Every Stripe call inside shares one budget of `seconds`, connect and read timeouts and
    retries included. A web request runs inside one (payments.middleware), below the web
    worker's timeout, so a hung Stripe costs the buyer a calm answer, never a killed worker.

    A call that finds no time left raises GatewayUnavailable without being sent. Calls made in
    a budget are never retried by the SDK: our idempotency keys make the buyer's next click the
    retry, with the same key.
    """
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def budget_left() -> float | None:
    """Seconds left in the current budget, or None outside one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def request_options(idempotency_key: str = "") -> dict[str, Any]:
    """Request options: this installation's prefix on the idempotency key (DESIGN.md, STYLE.md
    Stripe), and the SDK's network retries only outside a time budget."""
    options: dict[str, Any] = {
        "max_network_retries": 0
        if budget_left() is not None
        else settings.STRIPE_MAX_NETWORK_RETRIES
    }
    if idempotency_key:
        options["idempotency_key"] = f"{installation_id()}:{idempotency_key}"[:255]
    return options


def installation_id() -> str:
    """This database's random id (payments.Installation), made on first use if missing."""
    from payments.models import Installation

    installation, _ = Installation.objects.get_or_create(
        id=1, defaults={"installation_id": secrets.token_hex(8)}
    )
    return installation.installation_id
