"""The endpoints the peer answers itself, on localstripe's objects, because localstripe's own
handlers refuse what the pinned API version defines or skip what Stripe does.

Each operation takes the path ids, the decoded parameters (already judged against the SDK's
types by the strict layer) and `expand`, and returns the JSON object to answer. A parameter the
types allow but that the peer does not emulate is refused with `peer_unsupported`, so nothing
is silently ignored. Every other endpoint goes to localstripe unchanged.

What Stripe does that localstripe does not, done here:
- PaymentIntents take `allowed_payment_method_types` and `automatic_payment_methods` (and show
  `payment_method_types`), `return_url`, `use_stripe_sdk`, `description`, `receipt_email`, ...;
  a confirm may bring a new `payment_method`, also after a decline; a confirm, capture or cancel
  in the wrong state is `payment_intent_unexpected_state`.
- Refunds take `reason`, refuse more than is left on the charge, and emit `refund.created` and
  `charge.refunded` (and `refund.updated` + `refund.failed` for pm_card_refundFail).
- Lists take `created` (`gt`, `gte`, `lt`, `lte` or an exact time), list newest first, and page
  with `starting_after` / `ending_before`, as Stripe does.
- Objects are shaped as at this version: a PaymentIntent's `latest_charge` is an id unless
  expanded and it has no `charges` list; a Charge has no embedded `refunds` list.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Callable
from typing import Any

from localstripe.resources import (
    Charge,
    PaymentIntent,
    PaymentMethod,
    Refund,
    SetupIntent,
    StripeObject,
    store,
)

from devtools.stripe_peer import cards, events
from devtools.stripe_peer.errors import StripeError, invalid, no_such
from devtools.stripe_peer.money import amount_check, currency_check, money_format

Operation = Callable[[dict[str, str], dict[str, Any], list[str]], dict[str, Any]]

# Fields of Stripe's PaymentIntent that localstripe's does not have: kept as sent and shown.
_INTENT_FIELDS = (
    "description",
    "receipt_email",
    "setup_future_usage",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "shipping",
    "transfer_group",
    "on_behalf_of",
    "application_fee_amount",
    "confirmation_method",
)
# Parameters that steer how the browser or the bank is involved, and change nothing the peer
# emulates: Stripe.js's own next actions stand in for all of them.
_CONFIRM_CONTEXT = ("return_url", "use_stripe_sdk", "error_on_requires_action", "mandate_data")
_TRUE = "true"


def peer_unsupported(param: str, where: str) -> StripeError:
    return invalid(
        f"The Stripe peer does not emulate `{param}` on {where}; Stripe accepts it. Extend "
        "devtools/stripe_peer/api.py if the portal needs it.",
        code="peer_unsupported",
        param=param,
    )


def _refuse_others(params: dict, allowed: set[str], where: str) -> None:
    for name in params:
        if name not in allowed:
            raise peer_unsupported(name, where)


def _is_true(value: Any) -> bool:
    return value is True or value == _TRUE


def _off_session(value: Any) -> bool:
    return value not in (None, "", "false", False)


def _payment_method_id(value: str) -> str:
    """A concrete PaymentMethod id: Stripe's test ids (`pm_card_visa`) make a new one."""
    return PaymentMethod._api_retrieve(value).id


def _automatic(value: dict) -> dict:
    return {
        "enabled": _is_true(value.get("enabled")),
        "allow_redirects": value.get("allow_redirects") or "always",
    }


def _intent_payment_method_types(intent, params: dict) -> None:
    if "allowed_payment_method_types" in params:
        intent._payment_method_types = list(params["allowed_payment_method_types"])
    if "automatic_payment_methods" in params:
        intent.automatic_payment_methods = _automatic(params["automatic_payment_methods"])


def _intent(intent_id: str) -> PaymentIntent:
    intent = store.get(f"payment_intent:{intent_id}")
    if intent is None:
        raise no_such("payment_intent", intent_id, param="intent")
    return intent


def _unexpected_state(intent, action: str, allowed: tuple[str, ...]) -> StripeError:
    return invalid(
        f"You cannot {action} this PaymentIntent because it has a status of {intent.status}. "
        f"Only a PaymentIntent with one of the following statuses may be {action}ed: "
        + ", ".join(allowed)
        + ".",
        code="payment_intent_unexpected_state",
    )


def _run_confirm(intent, *, off_session: bool) -> None:
    token = cards.OFF_SESSION.set(off_session)
    try:
        intent._confirm(on_failure_now=intent._report_failure)
    finally:
        cards.OFF_SESSION.reset(token)


# --- PaymentIntents ---------------------------------------------------------------------------

_LOCALSTRIPE_INTENT_ARGS = {
    "amount",
    "currency",
    "customer",
    "payment_method",
    "metadata",
    "capture_method",
    "payment_method_options",
}


def intent_create(ids: dict, params: dict, expand: list) -> dict:
    where = "POST /v1/payment_intents"
    _refuse_others(
        params,
        _LOCALSTRIPE_INTENT_ARGS
        | set(_INTENT_FIELDS)
        | set(_CONFIRM_CONTEXT)
        | {"confirm", "off_session", "allowed_payment_method_types", "automatic_payment_methods"},
        where,
    )
    amount_check(params.get("amount"), params.get("currency"))
    confirm = _is_true(params.get("confirm"))
    off_session = _off_session(params.get("off_session"))
    if off_session and not confirm:
        raise invalid(
            "You may only specify `off_session` when `confirm=true`.", param="off_session"
        )
    args = {k: v for k, v in params.items() if k in _LOCALSTRIPE_INTENT_ARGS}
    args["currency"] = currency_check(args["currency"])
    if args.get("payment_method"):
        args["payment_method"] = _payment_method_id(args["payment_method"])
    intent = PaymentIntent(**args)
    for name in _INTENT_FIELDS:
        if name in params:
            setattr(intent, name, params[name])
    _intent_payment_method_types(intent, params)
    if confirm:
        _run_confirm(intent, off_session=off_session)
    return intent._export(expand=expand)


def intent_update(ids: dict, params: dict, expand: list) -> dict:
    intent = _intent(ids["intent"])
    _refuse_others(
        params,
        {"amount", "currency", "customer", "payment_method", "metadata", "capture_method"}
        | set(_INTENT_FIELDS)
        | {"allowed_payment_method_types", "automatic_payment_methods"},
        "POST /v1/payment_intents/{intent}",
    )
    if "amount" in params or "currency" in params:
        amount_check(params.get("amount", intent.amount), params.get("currency", intent.currency))
    if "currency" in params:
        params["currency"] = currency_check(params["currency"])
    if params.get("payment_method"):
        params["payment_method"] = _payment_method_id(params["payment_method"])
    _intent_payment_method_types(intent, params)
    plain = {
        k: v
        for k, v in params.items()
        if k not in ("allowed_payment_method_types", "automatic_payment_methods")
    }
    if plain:
        intent._update(**plain)
    return intent._export(expand=expand)


def intent_confirm(ids: dict, params: dict, expand: list) -> dict:
    intent = _intent(ids["intent"])
    _refuse_others(
        params,
        set(_CONFIRM_CONTEXT)
        | {"payment_method", "off_session", "capture_method", "receipt_email"}
        | {"setup_future_usage", "shipping", "allowed_payment_method_types"},
        "POST /v1/payment_intents/{intent}/confirm",
    )
    if params.get("payment_method"):
        if intent.status not in ("requires_payment_method", "requires_confirmation"):
            raise _unexpected_state(
                intent, "confirm", ("requires_payment_method", "requires_confirmation")
            )
        intent.payment_method = _payment_method_id(params["payment_method"])
        if intent.latest_charge is not None and intent.latest_charge.status == "failed":
            intent.latest_charge = None  # a new attempt after a decline, as Stripe allows
    for name in ("capture_method", "receipt_email", "setup_future_usage", "shipping"):
        if name in params:
            setattr(intent, name, params[name])
    _intent_payment_method_types(intent, params)
    if intent.status == "requires_payment_method":
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent with a PaymentMethod, provide `payment_method`.",
            code="payment_intent_unexpected_state",
        )
    if intent.status != "requires_confirmation":
        raise _unexpected_state(intent, "confirm", ("requires_confirmation",))
    _run_confirm(intent, off_session=_off_session(params.get("off_session")))
    return intent._export(expand=expand)


def intent_capture(ids: dict, params: dict, expand: list) -> dict:
    intent = _intent(ids["intent"])
    _refuse_others(params, {"amount_to_capture", "metadata"}, "capture")
    if intent.status != "requires_capture":
        raise _unexpected_state(intent, "capture", ("requires_capture",))
    if params.get("metadata"):
        intent._update(metadata=params["metadata"])
    intent.latest_charge._capture(
        amount=params.get("amount_to_capture"), on_success=intent._on_success
    )
    return intent._export(expand=expand)


_CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)


def intent_cancel(ids: dict, params: dict, expand: list) -> dict:
    intent = _intent(ids["intent"])
    _refuse_others(params, {"cancellation_reason"}, "cancel")
    if intent.status not in _CANCELABLE:
        raise _unexpected_state(intent, "cancel", _CANCELABLE)
    PaymentIntent._api_cancel(intent.id)
    intent.cancellation_reason = params.get("cancellation_reason")
    return intent._export(expand=expand)


# --- SetupIntents -----------------------------------------------------------------------------


def setup_intent_create(ids: dict, params: dict, expand: list) -> dict:
    _refuse_others(
        params,
        {"customer", "usage", "metadata", "description", "payment_method", "confirm"}
        | {"allowed_payment_method_types", "automatic_payment_methods"}
        | set(_CONFIRM_CONTEXT),
        "POST /v1/setup_intents",
    )
    args = {k: params[k] for k in ("customer", "usage", "metadata") if k in params}
    if "allowed_payment_method_types" in params:
        args["payment_method_types"] = list(params["allowed_payment_method_types"])
    intent = SetupIntent(**args)
    intent.description = params.get("description")
    if "automatic_payment_methods" in params:
        intent.automatic_payment_methods = _automatic(params["automatic_payment_methods"])
    if params.get("payment_method"):
        intent.payment_method = _payment_method_id(params["payment_method"])
    if _is_true(params.get("confirm")):
        SetupIntent._api_confirm(intent.id, payment_method=intent.payment_method)
    return intent._export(expand=expand)


def setup_intent_confirm(ids: dict, params: dict, expand: list) -> dict:
    _refuse_others(params, {"payment_method"} | set(_CONFIRM_CONTEXT), "confirm")
    return SetupIntent._api_confirm(
        ids["intent"], payment_method=params.get("payment_method")
    )._export(expand=expand)


def payment_method_create(ids: dict, params: dict, expand: list) -> dict:
    card = params.get("card")
    if isinstance(card, dict) and card.get("number"):
        raise invalid(
            "Sending credit card numbers directly to the Stripe API is generally unsafe. We "
            "suggest you use test tokens that map to the test card you are using, see "
            "https://stripe.com/docs/testing. To enable testing raw card data APIs, see "
            "https://support.stripe.com/questions/enabling-access-to-raw-card-data-apis.",
            param="card[number]",
        )
    _refuse_others(params, {"type", "billing_details", "metadata", "sepa_debit"}, "create")
    return PaymentMethod(**params)._export(expand=expand)


def payment_method_attach(ids: dict, params: dict, expand: list) -> dict:
    # localstripe's route holds its own attach; the peer's refuses decline cards with their
    # codes and a card that belongs to another customer.
    return PaymentMethod._api_attach(ids["payment_method"], **params)._export(expand=expand)


def payment_method_detach(ids: dict, params: dict, expand: list) -> dict:
    payment_method = PaymentMethod._api_retrieve(ids["payment_method"])
    payment_method.customer = None
    return payment_method._export(expand=expand)


def browser_setup_intent_confirm(ids: dict, params: dict) -> dict:
    """The Card Element stand-in's confirmCardSetup (publishable key, JSON body), answered by
    the peer's confirm rather than the one localstripe's route holds."""
    allowed = {"payment_method", "payment_method_data", "client_secret", "use_stripe_sdk"}
    args = {k: v for k, v in params.items() if k in allowed}
    return SetupIntent._api_confirm(ids["intent"], **args)._export()


# --- Refunds ----------------------------------------------------------------------------------


def refund_create(ids: dict, params: dict, expand: list) -> dict:
    _refuse_others(
        params,
        {"payment_intent", "charge", "amount", "metadata", "reason", "instructions_email"},
        "POST /v1/refunds",
    )
    if params.get("payment_intent"):
        intent = _intent(params["payment_intent"])
        charge = intent.latest_charge
        if charge is None or intent.status != "succeeded":
            raise invalid(
                f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
    elif params.get("charge"):
        charge = store.get(f"charge:{params['charge']}")
        if charge is None:
            raise no_such("charge", params["charge"], param="charge")
    else:
        raise invalid(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    if charge.status != "succeeded" or not charge.captured:
        raise invalid(f"Charge {charge.id} cannot be refunded: it was not paid.", param="charge")
    left = charge.amount - charge.amount_refunded
    if left <= 0:
        raise invalid(
            f"Charge {charge.id} has already been refunded.", code="charge_already_refunded"
        )
    amount = int(params.get("amount", left))
    if amount > left:
        raise invalid(
            f"Refund amount ({money_format(amount, charge.currency)}) is greater than unrefunded "
            f"amount on charge ({money_format(left, charge.currency)})",
            param="amount",
        )
    refund = Refund(charge=charge.id, amount=amount, metadata=params.get("metadata") or None)
    refund.payment_intent = charge.payment_intent
    refund.reason = params.get("reason")
    events.emit("refund.created", refund)
    events.emit("charge.refunded", charge)
    number = cards.card_number(PaymentMethod._api_retrieve(charge.payment_method))
    if number in cards.REFUND_FAIL_CARDS:
        asyncio.get_event_loop().call_later(events.ACCOUNT["delay"], _refund_fails, refund)
    return refund._export(expand=expand)


def _refund_fails(refund: Refund) -> None:
    """pm_card_refundFail: the refund succeeds, then fails (the bank sent the money back)."""
    refund.status = "failed"
    refund.failure_reason = "declined"
    events.emit("refund.updated", refund, previous={"status": "succeeded"})
    events.emit("refund.failed", refund)


# --- Lists ------------------------------------------------------------------------------------

Filter = Callable[[Any, Any], bool]


def _equals(attribute: str) -> Filter:
    return lambda obj, value: getattr(obj, attribute, None) == value


def _event_type(obj, value) -> bool:
    return fnmatch.fnmatchcase(obj.type, value)


def _refund_intent(obj, value) -> bool:
    charge = store.get(f"charge:{obj.charge}")
    return charge is not None and charge.payment_intent == value


def _created_filter(created: Any) -> Callable[[int], bool]:
    if isinstance(created, str):
        exact = int(created)
        return lambda at: at == exact
    bounds = {op: int(value) for op, value in created.items()}
    checks = {
        "gt": lambda at, v: at > v,
        "gte": lambda at, v: at >= v,
        "lt": lambda at, v: at < v,
        "lte": lambda at, v: at <= v,
    }
    return lambda at: all(checks[op](at, v) for op, v in bounds.items())


def list_of(object_name: str, filters: dict[str, Filter], *, path_filter: str = "") -> Operation:
    def op(ids: dict, params: dict, expand: list) -> dict:
        created = params.pop("created", None)
        limit = int(params.pop("limit", 10))
        if not 1 <= limit <= 100:
            raise invalid(
                f"This value must be between 1 and 100 (it currently is '{limit}').",
                param="limit",
            )
        starting_after = params.pop("starting_after", None)
        ending_before = params.pop("ending_before", None)
        prefix = object_name + ":"
        # Newest first, as Stripe lists; the store keeps creation order for a tie in a second.
        items = [obj for key, obj in store.items() if key.startswith(prefix)]
        items = [obj for _, obj in sorted(enumerate(items), key=lambda p: (p[1].created, p[0]))]
        items.reverse()
        if path_filter:
            items = [obj for obj in items if getattr(obj, path_filter, None) == ids[path_filter]]
        for name, value in params.items():
            if name not in filters:
                raise peer_unsupported(name, f"GET list of {object_name}")
            if isinstance(value, list):
                items = [obj for obj in items if any(filters[name](obj, v) for v in value)]
            else:
                items = [obj for obj in items if filters[name](obj, value)]
        if created is not None:
            keep = _created_filter(created)
            items = [obj for obj in items if keep(obj.created)]
        if starting_after:
            at = next((i for i, obj in enumerate(items) if obj.id == starting_after), None)
            items = items[at + 1 :] if at is not None else []
            page, has_more = items[:limit], len(items) > limit
        elif ending_before:
            at = next((i for i, obj in enumerate(items) if obj.id == ending_before), None)
            items = items[:at] if at is not None else []
            page, has_more = items[-limit:], len(items) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        inner = [p.split(".", 1)[1] for p in expand if p.startswith("data.")]
        return {
            "object": "list",
            "url": f"/v1/{object_name}s",
            "has_more": has_more,
            "data": [obj._export(expand=inner) for obj in page],
        }

    return op


# --- shapes -----------------------------------------------------------------------------------


def _wrap_export(cls: type[StripeObject], adjust: Callable[[Any, dict, list[str]], None]) -> None:
    original = cls._export

    def export(self, expand=None):
        obj = original(self, expand=expand)
        adjust(self, obj, list(expand or []))
        return obj

    cls._export = export


def _intent_shape(intent, obj: dict, expand: list[str]) -> None:
    obj.pop("charges", None)  # removed in 2022-11-15
    expanded = any(p == "latest_charge" or p.startswith("latest_charge.") for p in expand)
    if not expanded and isinstance(obj.get("latest_charge"), dict):
        obj["latest_charge"] = obj["latest_charge"]["id"]


def _charge_shape(charge, obj: dict, expand: list[str]) -> None:
    obj.pop("refunds", None)  # a Charge has not embedded its refunds since 2022-11-15


def _refund_shape(refund, obj: dict, expand: list[str]) -> None:
    obj.pop("date", None)  # localstripe's; not in Stripe's Refund


def _charge_amount_refunded(charge) -> int:
    return sum(
        refund.amount
        for refund in charge.refunds._list
        if getattr(refund, "status", "succeeded") not in ("failed", "canceled")
    )


def install() -> None:
    for name in (*_INTENT_FIELDS, "automatic_payment_methods", "cancellation_reason"):
        setattr(PaymentIntent, name, None)
    PaymentIntent._payment_method_types = None
    PaymentIntent.payment_method_types = property(
        lambda self: self._payment_method_types or ["card"]
    )
    PaymentIntent.amount_capturable = property(
        lambda self: self.amount if self.status == "requires_capture" else 0
    )
    SetupIntent.description = None
    SetupIntent.automatic_payment_methods = None
    Refund.reason = None
    Refund.failure_reason = None
    Charge.amount_refunded = property(_charge_amount_refunded)
    _wrap_export(PaymentIntent, _intent_shape)
    _wrap_export(Charge, _charge_shape)
    _wrap_export(Refund, _refund_shape)


BROWSER_OPERATIONS = {
    ("POST", "/v1/setup_intents/{intent}/confirm"): browser_setup_intent_confirm,
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/v1/payment_intents"): intent_create,
    ("POST", "/v1/payment_intents/{intent}"): intent_update,
    ("POST", "/v1/payment_intents/{intent}/confirm"): intent_confirm,
    ("POST", "/v1/payment_intents/{intent}/capture"): intent_capture,
    ("POST", "/v1/payment_intents/{intent}/cancel"): intent_cancel,
    ("GET", "/v1/payment_intents"): list_of("payment_intent", {"customer": _equals("customer")}),
    ("POST", "/v1/setup_intents"): setup_intent_create,
    ("POST", "/v1/setup_intents/{intent}/confirm"): setup_intent_confirm,
    ("GET", "/v1/setup_intents"): list_of(
        "setup_intent",
        {"customer": _equals("customer"), "payment_method": _equals("payment_method")},
    ),
    ("POST", "/v1/payment_methods"): payment_method_create,
    ("POST", "/v1/payment_methods/{payment_method}/attach"): payment_method_attach,
    ("POST", "/v1/payment_methods/{payment_method}/detach"): payment_method_detach,
    ("GET", "/v1/payment_methods"): list_of(
        "payment_method", {"customer": _equals("customer"), "type": _equals("type")}
    ),
    ("GET", "/v1/customers/{customer}/payment_methods"): list_of(
        "payment_method", {"type": _equals("type")}, path_filter="customer"
    ),
    ("POST", "/v1/refunds"): refund_create,
    ("GET", "/v1/refunds"): list_of(
        "refund", {"charge": _equals("charge"), "payment_intent": _refund_intent}
    ),
    ("GET", "/v1/charges"): list_of(
        "charge", {"customer": _equals("customer"), "payment_intent": _equals("payment_intent")}
    ),
    ("GET", "/v1/customers"): list_of("customer", {"email": _equals("email")}),
    ("GET", "/v1/events"): list_of("event", {"type": _event_type, "types": _event_type}),
    ("POST", "/v1/webhook_endpoints"): events.endpoint_create,
    ("GET", "/v1/webhook_endpoints"): list_of("webhook_endpoint", {}),
    ("GET", "/v1/webhook_endpoints/{webhook_endpoint}"): events.endpoint_retrieve,
    ("POST", "/v1/webhook_endpoints/{webhook_endpoint}"): events.endpoint_update,
    ("DELETE", "/v1/webhook_endpoints/{webhook_endpoint}"): events.endpoint_delete,
}
