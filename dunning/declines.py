"""What a decline means: the one table the retry rules, the buyer's words and the staff view use.

Stripe reports a failed charge with an error `code` (card_declined, expired_card,
authentication_required, ...) and, for card_declined, a `decline_code` from the issuer
(insufficient_funds, stolen_card, ...). A decline code says more, so it is looked up first, then
the error code. Each known code has a category:

- hard: the issuer will never approve this card again (stolen, lost, fraud, closed or blocked).
  Never retried; the next step is another payment method.
- customer_action: only the buyer can fix it (a new expiry date, the right CVC, approving the
  payment with their bank). No blind retries; the next step is the payment link.
- soft: may succeed later (not enough money today, the issuer was down). Retried on schedule.

A code not in the table counts as soft, with the policy's lower retry cap for unknown codes.

Sources: Stripe's decline code list (docs.stripe.com/declines/codes) and its advice per code.
Beyond the codes the issue names, `do_not_try_again`, `stop_payment_order`,
`invalid_account` and `restricted_card` are hard too: Stripe's advice for each is that the
customer must contact their issuer or use another card, and retrying them counts against the
merchant with the card networks.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Category(models.TextChoices):
    HARD = "hard", "Hard decline"
    CUSTOMER_ACTION = "customer_action", "Needs the buyer"
    SOFT = "soft", "Soft decline"


class NextStep(models.TextChoices):
    OTHER_METHOD = "other_method", "Ask for another payment method"
    UPDATE_CARD = "update_card", "Ask the buyer to update the card or confirm the payment"
    RETRY = "retry", "Retry on schedule"


@dataclass(frozen=True)
class Words:
    """What happened and what the buyer can do, in one language."""

    what_happened: str
    what_to_do: str


@dataclass(frozen=True)
class DeclineRule:
    code: str
    category: str
    known: bool
    staff: str
    words: dict[str, Words]

    @property
    def next_step(self) -> str:
        return {
            Category.HARD: NextStep.OTHER_METHOD,
            Category.CUSTOMER_ACTION: NextStep.UPDATE_CARD,
            Category.SOFT: NextStep.RETRY,
        }[self.category]

    @property
    def next_step_label(self) -> str:
        return NextStep(self.next_step).label

    @property
    def retried(self) -> bool:
        return self.category == Category.SOFT

    def for_language(self, language: str) -> Words:
        return self.words.get(language) or self.words["en"]


def _w(en: tuple[str, str], de: tuple[str, str]) -> dict[str, Words]:
    return {"en": Words(*en), "de": Words(*de)}


_OTHER_CARD_EN = "Please pay with another card or by bank transfer, using the link below."
_OTHER_CARD_DE = (
    "Bitte zahlen Sie mit einer anderen Karte oder per Überweisung über den Link unten."
)

_LOST_OR_STOLEN = _w(
    (
        "Your bank declined the card because it has been reported lost or stolen, so it cannot "
        "be used any more. If that surprises you, your bank can tell you more.",
        _OTHER_CARD_EN,
    ),
    (
        "Ihre Bank hat die Karte abgelehnt, weil sie als verloren oder gestohlen gemeldet ist. "
        "Sie kann daher nicht mehr verwendet werden. Falls Sie das überrascht, hilft Ihnen Ihre "
        "Bank weiter.",
        _OTHER_CARD_DE,
    ),
)
_BLOCKED = _w(
    (
        "Your bank declined the payment and asked us not to try this card again. This is often "
        "a safety measure on the bank's side; it says nothing about you.",
        _OTHER_CARD_EN,
    ),
    (
        "Ihre Bank hat die Zahlung abgelehnt und uns gebeten, diese Karte nicht erneut zu "
        "belasten. Das ist oft eine Sicherheitsmaßnahme der Bank und sagt nichts über Sie aus.",
        _OTHER_CARD_DE,
    ),
)
_NUMBER = _w(
    (
        "The card number we have does not match a card at your bank.",
        "Please enter your card again, or use another card, using the link below.",
    ),
    (
        "Die Kartennummer, die uns vorliegt, passt zu keiner Karte Ihrer Bank.",
        "Bitte geben Sie Ihre Karte über den Link unten erneut ein oder nutzen Sie eine andere.",
    ),
)
_NOT_ALLOWED = _w(
    (
        "Your bank does not allow this kind of payment on this card.",
        "Please use another card, or ask your bank to allow online payments, then use the link "
        "below.",
    ),
    (
        "Ihre Bank erlaubt diese Art von Zahlung mit dieser Karte nicht.",
        "Bitte nutzen Sie eine andere Karte oder bitten Sie Ihre Bank, Online-Zahlungen zu "
        "erlauben, und nutzen Sie dann den Link unten.",
    ),
)
_EXPIRED = _w(
    (
        "The card we have on file has expired.",
        "Please add your new card using the link below. It takes about a minute.",
    ),
    (
        "Die hinterlegte Karte ist abgelaufen.",
        "Bitte hinterlegen Sie Ihre neue Karte über den Link unten. Das dauert etwa eine Minute.",
    ),
)
_CVC = _w(
    (
        "The security code (the 3 digits on the back of the card) did not match.",
        "Please enter the card again with its security code, using the link below.",
    ),
    (
        "Der Sicherheitscode (die 3 Ziffern auf der Kartenrückseite) stimmte nicht.",
        "Bitte geben Sie die Karte über den Link unten mit dem Sicherheitscode erneut ein.",
    ),
)
_AUTHENTICATE = _w(
    (
        "Your bank wants you to confirm this payment yourself, which we cannot do for you.",
        "Open the link below and approve the payment, for example in your banking app.",
    ),
    (
        "Ihre Bank möchte, dass Sie diese Zahlung selbst bestätigen. Das können wir nicht für "
        "Sie tun.",
        "Öffnen Sie den Link unten und bestätigen Sie die Zahlung, zum Beispiel in Ihrer "
        "Banking-App.",
    ),
)
_LIMIT = _w(
    (
        "The card has reached a spending limit set by your bank.",
        "You can ask your bank to raise the limit, or pay with another card using the link "
        "below. We will also try again in a few days.",
    ),
    (
        "Die Karte hat ein von Ihrer Bank gesetztes Ausgabelimit erreicht.",
        "Sie können Ihre Bank bitten, das Limit zu erhöhen, oder über den Link unten mit einer "
        "anderen Karte zahlen. Wir versuchen es außerdem in ein paar Tagen erneut.",
    ),
)
_FUNDS = _w(
    (
        "Your bank declined the payment because there was not enough money available on the "
        "card at the time. This happens to many people, for example just before payday.",
        "You do not need to do anything: we will try again in a few days. If you prefer, you "
        "can pay now with another card or by bank transfer using the link below.",
    ),
    (
        "Ihre Bank hat die Zahlung abgelehnt, weil zu dem Zeitpunkt nicht genug Guthaben "
        "verfügbar war. Das passiert vielen, zum Beispiel kurz vor dem Gehaltseingang.",
        "Sie müssen nichts tun: Wir versuchen es in ein paar Tagen erneut. Wenn Sie möchten, "
        "können Sie über den Link unten jetzt mit einer anderen Karte oder per Überweisung "
        "zahlen.",
    ),
)
_TEMPORARY = _w(
    (
        "Your bank could not be reached or had a temporary problem. You were not charged.",
        "You do not need to do anything: we will try again later. You can also pay now using "
        "the link below.",
    ),
    (
        "Ihre Bank war nicht erreichbar oder hatte ein vorübergehendes Problem. Es wurde nichts "
        "abgebucht.",
        "Sie müssen nichts tun: Wir versuchen es später erneut. Sie können auch jetzt über den "
        "Link unten zahlen.",
    ),
)
_GENERIC = _w(
    (
        "Your bank declined the payment without telling us why. Banks do this for many "
        "reasons, and it often works a little later.",
        "We will try again in a few days. If you prefer, you can pay now with another card or "
        "by bank transfer using the link below, or ask your bank why it was declined.",
    ),
    (
        "Ihre Bank hat die Zahlung ohne Angabe von Gründen abgelehnt. Banken tun das aus vielen "
        "Gründen, und oft klappt es etwas später.",
        "Wir versuchen es in ein paar Tagen erneut. Wenn Sie möchten, können Sie über den Link "
        "unten jetzt mit einer anderen Karte oder per Überweisung zahlen, oder Ihre Bank nach "
        "dem Grund fragen.",
    ),
)
_DUE = _w(
    (
        "The balance for your order is now due, and we have not received it yet.",
        "You can pay it by card or bank transfer using the link below.",
    ),
    (
        "Der Restbetrag für Ihre Bestellung ist jetzt fällig und bei uns noch nicht eingegangen.",
        "Sie können ihn über den Link unten mit Karte oder per Überweisung bezahlen.",
    ),
)

_H, _C, _S = Category.HARD, Category.CUSTOMER_ACTION, Category.SOFT

# code: (category, what staff should know, the buyer's words)
_TABLE: dict[str, tuple[str, str, dict[str, Words]]] = {
    "stolen_card": (_H, "Reported stolen. Never retry; say no more to the buyer.", _LOST_OR_STOLEN),
    "lost_card": (_H, "Reported lost. Never retry; say no more to the buyer.", _LOST_OR_STOLEN),
    "pickup_card": (_H, "The issuer wants the card back (lost, stolen or blocked).", _BLOCKED),
    "fraudulent": (_H, "Flagged as fraud by the issuer or Radar. Never retry.", _BLOCKED),
    "incorrect_number": (_H, "The number is not a valid card at the issuer.", _NUMBER),
    "invalid_number": (_H, "The number is not a valid card.", _NUMBER),
    "revocation_of_authorization": (_H, "The buyer revoked this merchant's permission.", _BLOCKED),
    "revocation_of_all_authorizations": (_H, "The buyer revoked all recurring payments.", _BLOCKED),
    "transaction_not_allowed": (_H, "The card cannot be used for this payment.", _NOT_ALLOWED),
    "highest_risk_level": (_H, "Radar rated the payment highest risk and blocked it.", _BLOCKED),
    "do_not_try_again": (_H, "The issuer asked not to retry.", _BLOCKED),
    "stop_payment_order": (_H, "The buyer asked their bank to stop payments to us.", _BLOCKED),
    "invalid_account": (_H, "The card or account is closed or invalid.", _BLOCKED),
    "restricted_card": (_H, "The card is restricted (for example lost or stolen).", _BLOCKED),
    "expired_card": (_C, "The card has expired: the buyer must add a new one.", _EXPIRED),
    "incorrect_cvc": (_C, "The CVC was wrong: the buyer must enter the card again.", _CVC),
    "invalid_cvc": (_C, "The CVC was wrong: the buyer must enter the card again.", _CVC),
    "authentication_required": (_C, "The bank wants the buyer to confirm (3DS).", _AUTHENTICATE),
    "payment_intent_authentication_failure": (_C, "The buyer did not complete 3DS.", _AUTHENTICATE),
    "card_velocity_exceeded": (_C, "Over the card's limit or velocity at the issuer.", _LIMIT),
    "insufficient_funds": (_S, "Not enough money today; retried, on payday if set.", _FUNDS),
    "processing_error": (_S, "A processing error at Stripe or the issuer; retried.", _TEMPORARY),
    "try_again_later": (_S, "The issuer asked to try later; retried.", _TEMPORARY),
    "issuer_not_available": (_S, "The issuer could not be reached; retried.", _TEMPORARY),
    "reenter_transaction": (_S, "The issuer could not process it; retried.", _TEMPORARY),
    "generic_decline": (_S, "Declined with no reason given; retried.", _GENERIC),
    "do_not_honor": (_S, "Declined with no reason given; retried.", _GENERIC),
    "call_issuer": (_S, "Declined with no reason given; retried.", _GENERIC),
    "card_declined": (_S, "Declined, no decline code given; retried.", _GENERIC),
    "no_action_taken": (_S, "Declined with no reason given; retried.", _GENERIC),
    "not_permitted": (_S, "Not permitted by the issuer; retried.", _GENERIC),
    "service_not_allowed": (_S, "Not permitted by the issuer; retried.", _GENERIC),
    "withdrawal_count_limit_exceeded": (_S, "Over the card's count limit; retried.", _LIMIT),
    "approve_with_id": (_S, "The issuer could not authorise it now; retried.", _TEMPORARY),
    "balance_due": (_S, "A deposit balance is due (no card was declined).", _DUE),
}  # fmt: skip

DECLINE_TABLE: dict[str, DeclineRule] = {
    code: DeclineRule(code=code, category=category, known=True, staff=staff, words=words)
    for code, (category, staff, words) in _TABLE.items()
}


def decline_classify(*, decline_code: str = "", failure_code: str = "") -> DeclineRule:
    """The rule for a failure: the issuer's decline code when there is one, else the error
    code. A decline code we do not know is unknown even beside a known error code: the error
    code then only says "declined" (card_declined), which the decline code refines."""
    code = (decline_code or "").strip() or (failure_code or "").strip()
    rule = DECLINE_TABLE.get(code)
    if rule is not None:
        return rule
    return DeclineRule(
        code=code or "unknown",
        category=Category.SOFT,
        known=False,
        staff=f"Code {code or '(none)'} is not in the table: treated as soft, with the lower cap.",
        words=_GENERIC,
    )
