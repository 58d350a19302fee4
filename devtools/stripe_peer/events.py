"""Events and webhook endpoints as Stripe has them at the pinned API version.

- Every event carries the account's API version (localstripe writes `2017-08-15`), the
  `request` that caused it (id and idempotency key) and `pending_webhooks`.
- `/v1/webhook_endpoints` (create, list, retrieve, update, delete): each event goes only to the
  endpoints whose `enabled_events` name its type (or `*`), signed with that endpoint's secret,
  and labelled with that endpoint's `api_version` (the account's when it has none). The secret
  is shown only in the answer to the create, as Stripe shows it. localstripe's own
  `/_config/webhooks/<name>` registrations still receive events too, at the account's version.
- Endpoints live as long as the peer process (they are not written to the state file), like
  localstripe's registrations, so `make run` registers one, and learns its secret, each start.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import aiohttp
import localstripe.webhooks as webhooks_module
from localstripe.resources import Event, StripeObject, random_id, store

from devtools.stripe_peer.errors import invalid, no_such

logger = logging.getLogger("stripe_peer.webhooks")

ACCOUNT = {"api_version": "", "delay": 1.0}
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
IDEMPOTENCY_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "idempotency_key", default=None
)
ENDPOINT_PREFIX = "webhook_endpoint:"


class WebhookEndpoint(StripeObject):
    object = "webhook_endpoint"
    _id_prefix = "we_"

    def __init__(
        self,
        url=None,
        enabled_events=None,
        api_version=None,
        description=None,
        metadata=None,
        connect=None,
        **kwargs,
    ):
        if kwargs:
            raise invalid("Received unknown parameter: " + ", ".join(kwargs))
        _url_check(url)
        _events_check(enabled_events)
        super().__init__()
        self.url = url
        self.enabled_events = list(enabled_events)
        self.api_version = api_version or None
        self.application = None
        self.description = description or None
        self.metadata = metadata or {}
        self.status = "enabled"
        self._secret = "whsec_" + random_id(32)


def _url_check(url: Any) -> None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid("Invalid URL: must be an http or https URL.", param="url")


def _events_check(events: Any) -> None:
    if not isinstance(events, list) or not events:
        raise invalid(
            "Missing required param: enabled_events.",
            code="parameter_missing",
            param="enabled_events",
        )


def _endpoints() -> list[WebhookEndpoint]:
    return [obj for key, obj in store.items() if key.startswith(ENDPOINT_PREFIX)]


def targets(event_type: str) -> list[tuple[str, str, str]]:
    """(url, secret, api_version) of every endpoint that takes events of this type."""
    found = [
        (hook.url, hook.secret, ACCOUNT["api_version"])
        for hook in webhooks_module._webhooks.values()
        if hook.events is None or event_type in hook.events
    ]
    for endpoint in _endpoints():
        if endpoint.status == "enabled" and (
            "*" in endpoint.enabled_events or event_type in endpoint.enabled_events
        ):
            found.append(
                (endpoint.url, endpoint._secret, endpoint.api_version or ACCOUNT["api_version"])
            )
    return found


async def send(event: Event) -> None:
    """Deliver one event to each endpoint that takes it, about a second after it happened (as
    localstripe does; tests poll for it). One try each: Stripe's retries are not emulated."""
    await asyncio.sleep(ACCOUNT["delay"])
    exported = event._export()
    async with aiohttp.ClientSession() as session:
        for url, secret, api_version in targets(event.type):
            payload = json.dumps({**exported, "api_version": api_version}, indent=2, sort_keys=True)
            body = payload.encode()
            timestamp = int(time.time())
            signature = hmac.new(
                secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
            ).hexdigest()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": f"t={timestamp},v1={signature}",
            }
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    logger.info("webhook %s to %s: %s", event.type, url, response.status)
            except aiohttp.ClientError as exc:
                logger.info("webhook %s to %s failed: %s", event.type, url, exc)


def _event_init(original):
    def init(self, type, data):
        original(self, type, data)
        self.api_version = ACCOUNT["api_version"]
        self.pending_webhooks = len(targets(type))
        self.request = {"id": REQUEST_ID.get(), "idempotency_key": IDEMPOTENCY_KEY.get()}

    return init


def emit(event_type: str, obj: StripeObject, *, previous: dict | None = None) -> Event:
    event = Event(event_type, obj)
    if previous is not None:
        event.data["previous_attributes"] = previous
    webhooks_module.schedule_webhook(event)
    return event


# --- /v1/webhook_endpoints --------------------------------------------------------------------


def _endpoint(endpoint_id: str) -> WebhookEndpoint:
    endpoint = store.get(ENDPOINT_PREFIX + endpoint_id)
    if endpoint is None:
        raise no_such("webhook_endpoint", endpoint_id, param="webhook_endpoint")
    return endpoint


def endpoint_create(ids: dict, params: dict, expand: list) -> dict:
    params.pop("connect", None)
    endpoint = WebhookEndpoint(**params)
    return {**endpoint._export(expand=expand), "secret": endpoint._secret}


def endpoint_retrieve(ids: dict, params: dict, expand: list) -> dict:
    return _endpoint(ids["webhook_endpoint"])._export(expand=expand)


def endpoint_update(ids: dict, params: dict, expand: list) -> dict:
    endpoint = _endpoint(ids["webhook_endpoint"])
    if "url" in params:
        _url_check(params["url"])
        endpoint.url = params["url"]
    if "enabled_events" in params:
        _events_check(params["enabled_events"])
        endpoint.enabled_events = list(params["enabled_events"])
    if "description" in params:
        endpoint.description = params["description"] or None
    if "disabled" in params:
        endpoint.status = "disabled" if params["disabled"] == "true" else "enabled"
    if "metadata" in params:
        metadata = params["metadata"]
        endpoint.metadata = {} if metadata == "" else {**endpoint.metadata, **metadata}
        endpoint.metadata = {k: v for k, v in endpoint.metadata.items() if v != ""}
    return endpoint._export(expand=expand)


def endpoint_delete(ids: dict, params: dict, expand: list) -> dict:
    endpoint = _endpoint(ids["webhook_endpoint"])
    del store[ENDPOINT_PREFIX + endpoint.id]
    return {"id": endpoint.id, "object": "webhook_endpoint", "deleted": True}


def install(*, api_version: str, delay: float) -> None:
    ACCOUNT["api_version"] = api_version
    ACCOUNT["delay"] = delay
    Event.__init__ = _event_init(Event.__init__)
    webhooks_module._send_webhook = send
