"""The strict layer in front of localstripe, for every request made with a secret key.

1. The endpoint and its parameters are judged by stripe-python's own types
   (devtools/stripe_contract.py). Anything they do not allow is refused as Stripe refuses it:
   400 `parameter_unknown` ("Received unknown parameter: ..."), `parameter_missing`,
   `parameter_invalid_integer`, an enum's "Invalid ...: must be one of ...". A parameter that
   a newer API version removed (`payment_method_types` on intents) gets Stripe's own code.
2. An `Idempotency-Key` (POST) replays the first answer (status and body, with
   `Idempotent-Replayed: true`) for the same request, and answers 400 `idempotency_error` for a
   different one, per API key, as Stripe does. Like Stripe, the peer saves only answers of
   requests that ran: a refusal of the parameters (any 4xx but a card's 402) is not saved, so
   a corrected retry under the same key goes through.
3. The endpoints localstripe cannot answer as Stripe does are answered by
   devtools/stripe_peer/api.py; the rest go to localstripe.
4. With a record file, each request from stripe-python (by its User-Agent) is written to it as
   one JSON line (method, path, query, body, Stripe-Version, status), for the contract test.

Requests with a publishable key (localstripe's Stripe.js stand-in, and its 3D Secure page) are
the browser's, not ours to judge: they go to localstripe, except the Card Element's SetupIntent
confirm, which the peer answers itself so a saved card is declined or attached as at Stripe.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import random_id
from localstripe.server import get_post_data

from devtools import stripe_contract
from devtools.stripe_peer import api, events
from devtools.stripe_peer.errors import StripeError, invalid

SDK_USER_AGENT = "Stripe/v1 PythonBindings/"
# Parameters that newer API versions removed, with the answer Stripe gives for them.
REMOVED = {
    "payment_method_types": (
        "payment_method_types_no_longer_supported",
        "The `payment_method_types` parameter is no longer supported as of API version "
        "2026-09-30.endive. Use `allowed_payment_method_types` to choose payment method types, "
        "or leave it out to use dynamic payment methods.",
    ),
}
_REMOVED_ON = ("/v1/payment_intents", "/v1/setup_intents")


@dataclass
class Saved:
    fingerprint: str
    status: int
    body: bytes


class Strict:
    def __init__(self, record_path: Path | None):
        self.record_path = record_path
        self.saved: dict[tuple[str, str], Saved] = {}
        self.running: set[tuple[str, str]] = set()

    def forget(self) -> None:
        """DELETE /_config/data: a new account, with no idempotency keys seen."""
        self.saved.clear()

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        if request.method == "DELETE" and request.path == "/_config/data":
            response = await handler(request)
            self.forget()
            return response
        if not request.path.startswith("/v1/"):
            return await handler(request)
        api_key = _secret_key(request)
        if api_key is None:
            return await self._browser(request, handler)
        body = await request.text() if request.method == "POST" else ""
        request_id = "req_" + random_id(14)
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        tokens = (events.REQUEST_ID.set(request_id), events.IDEMPOTENCY_KEY.set(key))
        try:
            response = await self._answer(request, handler, api_key=api_key, body=body, key=key)
        finally:
            events.REQUEST_ID.reset(tokens[0])
            events.IDEMPOTENCY_KEY.reset(tokens[1])
        response.headers["Request-Id"] = request_id
        if request.headers.get("User-Agent", "").startswith(SDK_USER_AGENT):
            self._record(request, body, response.status)
        return response

    async def _answer(self, request, handler, *, api_key: str, body: str, key: str | None):
        endpoint = stripe_contract.endpoint_for(request.method, request.path)
        if endpoint is None:
            return invalid(
                f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                status=404,
            ).to_response()
        try:
            params = stripe_contract.form_decode(request.query_string)
            params.update(stripe_contract.form_decode(body))
        except stripe_contract.FormConflict as exc:
            return invalid(f"Invalid hash: {exc}", param=str(exc)).to_response()
        problems = stripe_contract.params_problems(endpoint, params)
        if problems:
            return _refusal(problems[0], endpoint.path).to_response()
        if key and len(key) > 255:
            return invalid(
                "Invalid idempotency key: it must be 255 characters or fewer.",
                param="Idempotency-Key",
            ).to_response()
        if key:
            fingerprint = json.dumps([endpoint.name, request.path, params], sort_keys=True)
            slot = (api_key, key)
            saved = self.saved.get(slot)
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    return StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        type="idempotency_error",
                    ).to_response()
                return web.Response(
                    body=saved.body,
                    status=saved.status,
                    content_type="application/json",
                    headers={"Idempotent-Replayed": "true"},
                )
            if slot in self.running:
                return StripeError(
                    409,
                    "There is currently another in-progress request using this Idempotent Key "
                    "(that probably means you submitted twice, and the other request is still "
                    f"going through): {key}. Please try again later.",
                    type="idempotency_error",
                    code="idempotency_key_in_use",
                ).to_response()
            self.running.add(slot)
        try:
            response = await self._run(request, handler, endpoint, params)
        finally:
            if key:
                self.running.discard((api_key, key))
        if key and (response.status < 400 or response.status == 402 or response.status >= 500):
            self.saved[(api_key, key)] = Saved(fingerprint, response.status, response.body)
        return response

    async def _run(self, request, handler, endpoint, params) -> web.Response:
        operation = api.OPERATIONS.get((endpoint.method, endpoint.path))
        try:
            if operation is None:
                try:
                    response = await handler(request)
                except web.HTTPNotFound:
                    response = None
                if response is None or (response.status == 404 and not _is_json(response)):
                    # An endpoint Stripe has and localstripe lacks (disputes, say): a JSON
                    # error the SDK reads, not a plain-text page it would take for an outage.
                    raise invalid(
                        f"The Stripe peer does not emulate {endpoint.name}.",
                        code="resource_missing",
                        status=404,
                    )
                return response
            ids = _path_ids(endpoint.path, request.path)
            tree = stripe_contract.as_lists(params)
            expand = tree.pop("expand", None) or []
            return web.json_response(operation(ids, tree, expand), dumps=_dumps)
        except UserError as exc:
            return exc.to_response()

    async def _browser(self, request: web.Request, handler) -> web.StreamResponse:
        endpoint = stripe_contract.endpoint_for(request.method, request.path)
        operation = endpoint and api.BROWSER_OPERATIONS.get((endpoint.method, endpoint.path))
        if operation is None:
            return await handler(request)
        try:
            params = await get_post_data(request) or {}
            answer = operation(_path_ids(endpoint.path, request.path), dict(params))
        except UserError as exc:
            return exc.to_response()
        return web.json_response(answer, dumps=_dumps)

    def _record(self, request: web.Request, body: str, status: int) -> None:
        if self.record_path is None:
            return
        line = json.dumps(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "body": body,
                "stripe_version": request.headers.get("Stripe-Version", ""),
                "status": status,
            }
        )
        # One write per line from the one event loop: lines never interleave.
        with self.record_path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def _is_json(response: web.StreamResponse) -> bool:
    return (response.content_type or "").endswith("json")


def _secret_key(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Basic":
        try:
            value = base64.b64decode(value).decode().split(":", 1)[0]
        except ValueError:
            return None
    elif scheme != "Bearer":
        return None
    return value if value.startswith(("sk_", "rk_")) else None


def _path_ids(template: str, path: str) -> dict[str, str]:
    ids = {}
    for want, got in zip(template.strip("/").split("/"), path.strip("/").split("/"), strict=True):
        if want.startswith("{") and want.endswith("}"):
            ids[want[1:-1]] = got
    return ids


def _refusal(problem: stripe_contract.Problem, template: str) -> StripeError:
    top = problem.param.split("[", 1)[0]
    if problem.kind == "unknown" and top in REMOVED and template.startswith(_REMOVED_ON):
        code, message = REMOVED[top]
        return invalid(message, code=code, param=problem.param)
    if problem.kind == "unknown":
        return invalid(
            f"Received unknown parameter: {problem.param}",
            code="parameter_unknown",
            param=problem.param,
        )
    if problem.kind == "missing":
        return invalid(
            f"Missing required param: {problem.param}.",
            code="parameter_missing",
            param=problem.param,
        )
    if problem.kind == "type" and problem.expected == "integer":
        return invalid(
            f"Invalid integer: {problem.sent.strip(chr(39))}",
            code="parameter_invalid_integer",
            param=problem.param,
        )
    if problem.kind == "type" and problem.expected == "boolean":
        return invalid(f"Invalid boolean: {problem.sent.strip(chr(39))}", param=problem.param)
    return invalid(f"Invalid {problem.param}: must be {problem.allowed}", param=problem.param)
