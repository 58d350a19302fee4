"""Cards as Stripe's test mode treats them (docs.stripe.com/testing).

- Stripe's test PaymentMethods (`pm_card_visa`, `pm_card_chargeDeclinedInsufficientFunds`, ...):
  each use makes a new PaymentMethod from the test card behind it, as Stripe does.
- Declines with Stripe's codes. A decline card is refused when it is saved (attached, or set up
  by a SetupIntent) and when it is charged; `4000000000000341` (pm_card_chargeCustomerFail) is
  saved and then declined on every charge. A decline is a 402 `card_error` with `code`,
  `decline_code`, `charge`, `payment_intent` and `payment_method`, and the PaymentIntent's
  `last_payment_error` carries the same.
- A saved card can start declining later: `POST /_config/payment_methods/<pm>/decline` with a
  `decline_code` (and `DELETE` to stop), so a renewal or a retry can be declined end to end.
- 3D Secure: the cards that need it ask for it on-session. Off-session, a card that always
  needs it (`4000002760003184`, `4000000000003220`, `4000000000003063`) is declined with
  `authentication_required`; `4000002500003155` was authenticated when it was set up, so an
  off-session charge goes through, as Stripe's docs describe.
- A charge of `4000000000005126` (pm_card_refundFail) can be refunded, and the refund fails a
  moment later (refund.updated, refund.failed).
- Raw card numbers are refused from a secret key, as Stripe refuses them unless an account is
  allowed raw card data; the browser's Card Element stand-in (publishable key) still sends them.
"""

from __future__ import annotations

import contextvars
import datetime
from dataclasses import dataclass

from aiohttp import web
from localstripe.resources import (
    Charge,
    Customer,
    Event,
    Invoice,
    PaymentIntent,
    PaymentMethod,
    SetupIntent,
    fingerprint,
    schedule_webhook,
    store,
)

from devtools.stripe_peer.errors import StripeError, invalid, no_such


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str

    @classmethod
    def for_code(cls, decline_code: str) -> Decline:
        # Stripe gives a few declines a `code` of their own; the rest are card_declined.
        code = decline_code if decline_code in _OWN_CODES else "card_declined"
        return cls(code, decline_code, _MESSAGES.get(decline_code, _MESSAGES["generic_decline"]))

    def error(self, **fields) -> StripeError:
        return StripeError(
            402,
            self.message,
            type="card_error",
            code=self.code,
            decline_code=self.decline_code,
            **fields,
        )

    def as_last_error(self, **fields) -> dict:
        return {
            "code": self.code,
            "decline_code": self.decline_code,
            "doc_url": f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}",
            "message": self.message,
            "type": "card_error",
            **fields,
        }


_OWN_CODES = {
    "expired_card",
    "incorrect_cvc",
    "processing_error",
    "incorrect_number",
    "authentication_required",
}
_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "incorrect_number": "Your card number is incorrect.",
    "card_velocity_exceeded": "Your card was declined.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}

# Declined when saved and when charged.
DECLINE_CARDS = {
    "4000000000000002": Decline.for_code("generic_decline"),
    "4000000000009995": Decline.for_code("insufficient_funds"),
    "4000000000009987": Decline.for_code("lost_card"),
    "4000000000009979": Decline.for_code("stolen_card"),
    "4000000000000069": Decline.for_code("expired_card"),
    "4000000000000127": Decline.for_code("incorrect_cvc"),
    "4000000000000119": Decline.for_code("processing_error"),
    "4000000000006975": Decline.for_code("card_velocity_exceeded"),
    "4242424242424241": Decline.for_code("incorrect_number"),
}
# Saved without trouble, declined when charged (the second one after its 3D Secure check).
CHARGE_DECLINE_CARDS = {
    "4000000000000341": Decline.for_code("generic_decline"),
    "4000008260003178": Decline.for_code("insufficient_funds"),
}
THREE_DS_CARDS = {
    "4000002500003155",
    "4000002760003184",
    "4000008260003178",
    "4000000000003220",
    "4000000000003063",
    "4000008400001629",
}
# Authenticated once when set up; later off-session charges need no new check.
THREE_DS_SETUP_ONLY = {"4000002500003155"}
REFUND_FAIL_CARDS = {"4000000000005126"}
AUTHENTICATION_REQUIRED = Decline.for_code("authentication_required")

TEST_PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_mastercard_debit": "5200828282828210",
    "pm_card_mastercard_prepaid": "5105105105105100",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_diners": "3056930009020004",
    "pm_card_jcb": "3566002020360505",
    "pm_card_unionpay": "6200000000000005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_visa_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_visa_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_visa_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_visa_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_visa_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded": "4000000000006975",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_riskLevelElevated": "4000000000009235",
    "pm_card_riskLevelHighest": "4000000000004954",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds": "4000008260003178",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_threeDSecureRequired": "4000000000003063",
    "pm_card_refundFail": "4000000000005126",
}
_BRANDS = (
    ("34", "amex"),
    ("37", "amex"),
    ("6011", "discover"),
    ("65", "discover"),
    ("30", "diners"),
    ("36", "diners"),
    ("38", "diners"),
    ("35", "jcb"),
    ("62", "unionpay"),
    ("5", "mastercard"),
    ("2", "mastercard"),
    ("4", "visa"),
)
_FUNDING = {
    "4000056655665556": "debit",
    "5200828282828210": "debit",
    "5105105105105100": "prepaid",
}

# Set while an off-session confirm runs, and while a charge must decline whatever its card.
OFF_SESSION: contextvars.ContextVar[bool] = contextvars.ContextVar("off_session", default=False)
_FORCED_DECLINE: contextvars.ContextVar[Decline | None] = contextvars.ContextVar(
    "forced_decline", default=None
)


def brand(number: str) -> str:
    return next((name for prefix, name in _BRANDS if number.startswith(prefix)), "visa")


def card_number(payment_method) -> str:
    return getattr(payment_method, "_card_number", "") or ""


def decline_on_save(payment_method) -> Decline | None:
    return DECLINE_CARDS.get(card_number(payment_method))


def decline_on_charge(payment_method) -> Decline | None:
    later = getattr(payment_method, "_peer_decline", None)
    if later is not None:
        return later
    number = card_number(payment_method)
    return DECLINE_CARDS.get(number) or CHARGE_DECLINE_CARDS.get(number)


def _export_of(payment_method_id: str | None) -> dict | None:
    if not payment_method_id:
        return None
    try:
        return PaymentMethod._api_retrieve(payment_method_id)._export()
    except Exception:  # a payment method that is gone
        return None


def test_payment_method(test_id: str) -> PaymentMethod | None:
    """A new PaymentMethod for one of Stripe's test ids, as Stripe makes one on each use."""
    number = TEST_PAYMENT_METHODS.get(test_id)
    if number is None:
        return None
    year = datetime.date.today().year + 3
    # localstripe's constructor takes 16 digits only; an Amex number is set after.
    pm = PaymentMethod(
        type="card",
        card={
            "number": number.ljust(16, "0"),
            "exp_month": "12",
            "exp_year": str(year),
            "cvc": "123",
        },
    )
    pm._card_number = number
    pm.card.update(
        brand=brand(number),
        country="US",
        last4=number[-4:],
        fingerprint=fingerprint(number),
        funding=_FUNDING.get(number, "credit"),
    )
    return pm


def _card_created(pm: PaymentMethod) -> PaymentMethod:
    """A card made from a number (the Card Element stand-in): its real brand, not always Visa."""
    number = card_number(pm)
    if number:
        pm.card.update(brand=brand(number), country="US", funding=_FUNDING.get(number, "credit"))
    return pm


# --- the patches ------------------------------------------------------------------------------


def _attach(cls, id, customer=None, **kwargs):
    if kwargs:
        raise invalid("Received unknown parameter: " + ", ".join(kwargs), code="parameter_unknown")
    if not isinstance(customer, str) or not customer.startswith("cus_"):
        raise invalid(
            "Missing required param: customer.", code="parameter_missing", param="customer"
        )
    pm = cls._api_retrieve(id)
    Customer._api_retrieve(customer)
    if pm.customer and pm.customer != customer:
        raise invalid(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
        )
    decline = decline_on_save(pm)
    if decline is not None:
        raise decline.error(payment_method=pm._export())
    pm.customer = customer
    return pm


def _setup_intent_confirm(
    cls, id, use_stripe_sdk=None, client_secret=None,
    payment_method=None, payment_method_data=None, **kwargs,
):  # fmt: skip
    """localstripe's confirm, with Stripe's outcome: the card is attached to the intent's customer
    on success, and a decline leaves the intent `requires_payment_method` with its
    `last_setup_error` (localstripe cancels it)."""
    if kwargs:
        raise invalid("Received unknown parameter: " + ", ".join(kwargs), code="parameter_unknown")
    intent = cls._api_retrieve(id)
    if client_secret and client_secret != intent.client_secret:
        raise StripeError(401, "Invalid client secret.")
    if intent.status in ("succeeded", "canceled"):
        raise invalid(
            f"You cannot confirm this SetupIntent because it has a status of {intent.status}.",
            code="setup_intent_unexpected_state",
        )
    if payment_method is not None:
        pm = PaymentMethod._api_retrieve(payment_method)
    elif payment_method_data is not None:
        pm = PaymentMethod(**payment_method_data)
    elif client_secret and intent.payment_method is not None and intent.status == "requires_action":
        pm = None  # the browser (the Card Element stand-in) finished the bank's check
    else:
        raise invalid(
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            code="setup_intent_unexpected_state",
        )
    if pm is not None:
        intent.payment_method = pm.id
        intent.last_setup_error = None
        decline = decline_on_save(pm)
        if decline is not None:
            intent.status = "requires_payment_method"
            intent.payment_method = None
            intent.next_action = None
            intent.last_setup_error = decline.as_last_error(payment_method=pm._export())
            raise decline.error(payment_method=pm._export(), setup_intent=intent._export())
        if card_number(pm) in THREE_DS_CARDS:
            intent.status = "requires_action"
            intent.next_action = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""},
            }
            return intent
    intent.status = "succeeded"
    intent.next_action = None
    attached = PaymentMethod._api_retrieve(intent.payment_method)
    if intent.customer and not attached.customer:
        attached.customer = intent.customer
    return intent


def _charge_init(original):
    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._decline = _FORCED_DECLINE.get() or decline_on_charge(
            PaymentMethod._api_retrieve(self.payment_method)
        )
        self._authorized = self._decline is None

    return init


def _charge_failed(self):
    decline = self._decline or Decline.for_code("generic_decline")
    self.status = "failed"
    self.failure_code = decline.code
    self.failure_message = decline.message


def _charge_raise(self):
    decline = self._decline or Decline.for_code("generic_decline")
    raise decline.error(charge=self.id, payment_method=_export_of(self.payment_method))


def _last_payment_error(self):
    if self._authentication_failed:
        return {
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide "
            "payment_method_data or a new PaymentMethod to attempt to fulfill this "
            "PaymentIntent again.",
            "type": "invalid_request_error",
        }
    charge = self.latest_charge
    if charge is not None and charge.status == "failed":
        decline = getattr(charge, "_decline", None) or Decline.for_code("generic_decline")
        return decline.as_last_error(
            charge=charge.id, payment_method=_export_of(charge.payment_method)
        )
    return None


def _report_failure(self):
    # Stripe unsets the intent's payment method after a failed attempt; the one that failed is
    # in `last_payment_error.payment_method`.
    self.payment_method = None
    schedule_webhook(Event("payment_intent.payment_failed", self))
    if self.invoice:
        Invoice._api_retrieve(self.invoice)._on_payment_failure_now()
    charge = self.latest_charge
    decline = getattr(charge, "_decline", None) or Decline.for_code("generic_decline")
    raise decline.error(
        charge=charge.id,
        payment_intent=self._export(),
        payment_method=_export_of(charge.payment_method),
    )


def _confirm(self, on_failure_now):
    self._authentication_failed = False
    pm = PaymentMethod._api_retrieve(self.payment_method)
    number = card_number(pm)
    if number in THREE_DS_CARDS and not (OFF_SESSION.get() and number in THREE_DS_SETUP_ONLY):
        if OFF_SESSION.get():
            token = _FORCED_DECLINE.set(AUTHENTICATION_REQUIRED)
            try:
                self._create_charge(on_failure_now=on_failure_now)
            finally:
                _FORCED_DECLINE.reset(token)
            return
        self.next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""},
        }
        return
    self._create_charge(on_failure_now=on_failure_now)


def _retrieve_payment_method(original):
    def retrieve(cls, id):
        made = test_payment_method(id)
        if made is not None:
            return made
        return original.__func__(cls, id)

    return classmethod(retrieve)


def _payment_method_init(original):
    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.type == "card":
            _card_created(self)

    return init


def install() -> None:
    PaymentMethod._api_retrieve = _retrieve_payment_method(PaymentMethod._api_retrieve)
    PaymentMethod._try_get_canonical_test_article = classmethod(lambda cls, id: None)
    PaymentMethod.__init__ = _payment_method_init(PaymentMethod.__init__)
    PaymentMethod._api_attach = classmethod(_attach)
    PaymentMethod._requires_authentication = lambda self: card_number(self) in THREE_DS_CARDS
    PaymentMethod._attaching_is_declined = lambda self: decline_on_save(self) is not None
    original_charging = PaymentMethod._charging_is_declined
    PaymentMethod._charging_is_declined = lambda self: (
        decline_on_charge(self) is not None if self.type == "card" else original_charging(self)
    )
    SetupIntent._api_confirm = classmethod(_setup_intent_confirm)
    SetupIntent.last_setup_error = None
    Charge.__init__ = _charge_init(Charge.__init__)
    Charge._decline = None
    Charge._set_auth_failure = _charge_failed
    Charge._raise_failure = _charge_raise
    PaymentIntent.last_payment_error = property(_last_payment_error)
    PaymentIntent._report_failure = _report_failure
    PaymentIntent._confirm = _confirm


async def _later_decline(request: web.Request) -> web.Response:
    """Test control: make a saved card decline every charge from now on (`decline_code`), or
    stop that (DELETE)."""
    pm_id = request.match_info["pm"]
    pm = store.get(f"payment_method:{pm_id}")
    if pm is None:
        raise no_such("payment_method", pm_id)
    if request.method == "DELETE":
        pm._peer_decline = None
        return web.json_response({"id": pm_id, "decline_code": None})
    data = await request.post()
    if not data:
        try:
            data = await request.json()
        except ValueError:
            data = {}
    code = str(data.get("decline_code") or "generic_decline")
    pm._peer_decline = Decline.for_code(code)
    return web.json_response({"id": pm_id, "decline_code": code})


def routes(app: web.Application) -> None:
    app.router.add_post("/_config/payment_methods/{pm}/decline", _later_decline)
    app.router.add_delete("/_config/payment_methods/{pm}/decline", _later_decline)
