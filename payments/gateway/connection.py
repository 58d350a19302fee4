"""The connection to Stripe and what every call shares: the client with the pinned API version
and timeouts, the web request's time budget, this installation's prefix on idempotency keys, and
the translation of the SDK's errors into ours (`stripe_errors_translated`)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache, wraps
from typing import Any, ParamSpec, TypeVar

import stripe
from django.conf import settings

from payments.gateway.objects import CardDeclined, GatewayError, GatewayUnavailable

P = ParamSpec("P")
R = TypeVar("R")


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


@lru_cache(maxsize=16)
def _client(
    api_key: str, api_base: str, api_version: str, timeout: tuple[float, float]
) -> stripe.StripeClient:
    options: dict[str, Any] = {
        "stripe_version": api_version,
        "max_network_retries": 0,  # per call, in request_options
        "http_client": stripe.RequestsClient(timeout=timeout),
    }
    if api_base:
        options["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(api_key, **options)


def client() -> stripe.StripeClient:
    connect = settings.STRIPE_CONNECT_TIMEOUT_SECONDS
    read = settings.STRIPE_TIMEOUT_SECONDS
    deadline = _deadline.get()
    if deadline is not None:
        left = deadline - time.monotonic()
        if left < 1:
            raise GatewayUnavailable("no time left to reach Stripe in this request")
        # Whole seconds, so a handful of clients serve every budget.
        connect = min(connect, int(left))
        read = max(1, min(read, int(left - connect)))
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_API_VERSION,
        (connect, read),
    )


def request_options(idempotency_key: str = "") -> dict[str, Any]:
    """Request options: this installation's prefix on the idempotency key (DESIGN.md, STYLE.md
    Stripe), and the SDK's network retries only outside a time budget."""
    options: dict[str, Any] = {
        "max_network_retries": 0
        if _deadline.get() is not None
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


def stripe_errors_translated(call: Callable[P, R]) -> Callable[P, R]:
    """Every call to Stripe raises our own exceptions, never the SDK's (`_translate`)."""

    @wraps(call)
    def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    return translated


def _translate(exc: stripe.StripeError) -> GatewayError:
    if isinstance(exc, stripe.CardError):
        error = getattr(exc, "error", None)
        return CardDeclined(
            exc.user_message or str(exc),
            code=getattr(error, "code", "") or exc.code or "card_declined",
            decline_code=getattr(error, "decline_code", "") or "",
            http_status=exc.http_status,
        )
    # APIError is a 5xx, or a status Stripe does not document: Stripe may have acted on it.
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return GatewayUnavailable(
            str(exc) or "Stripe could not be reached",
            code=exc.code or "",
            http_status=exc.http_status,
        )
    return GatewayError(str(exc), code=exc.code or "", http_status=exc.http_status)
