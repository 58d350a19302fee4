"""Order accounting: what an order's payments add up to, and what follows from it.

`order_payment_record` is the one service that changes an Order's status because of money. It
is called synchronously by the checkout flow right after a server confirm, and from a task for
every payment signal (succeeded, authorized, failed, refunded, disputed). Whichever arrives
first does the work; the others find nothing left to do.

It never trusts the news it was given: it locks the order and recomputes everything from the
order's payments as they are now, so events that arrive twice or out of order converge on the
same result.

Amounts (integer minor units):
- `amount_paid`: money received, `amount_received` of payments in PAID_STATUSES (gross; a
  refund does not lower it).
- `amount_refunded`: money given back (a payment in `refunded` counts in full, which also
  covers a lost dispute).
- `amount_authorized`: money held on a card (`authorized`, a refundable hold). Secured but not
  paid: it is not revenue and not in `amount_paid`, but it does not have to be paid again, so
  it lowers `balance`.
- `balance`: what the buyer still owes, `total - amount_paid - amount_authorized` (never below
  zero); zero on a canceled or refunded order.

Access is granted when what is secured (paid + held) covers `amount_due_now` (the whole total,
or the deposit for a deposit offer). A hold therefore grants access at authorisation: the money
is secured and the buyer gets what they were promised while it is held. Access is taken back
when the order is refunded, a dispute is lost, or the order is canceled with no money kept (a
released hold).

A hold can also end without the order being canceled: Stripe cancels an uncaptured authorisation
by itself after about 7 days, or someone cancels it in the Dashboard (`payment_canceled`). Access
then rests on nothing, so it is suspended (cause `hold_lapsed`), not revoked: the order is still
open and the buyer is told once (`hold_lapsed` email) that they can pay to keep it. A payment that
covers the order again restores it. A hold staff released ends the order instead: it is
canceled (cause `hold_released`) and access revoked, without an email, whichever news of the
release arrives first. That holds when Stripe's answer to the release was lost too: its webhook
(or reconciliation) brings the cancellation later, and the order ends then.

Radar's verdict is decided here, under the order's lock, before access: a paid or authorised
payment whose risk qualifies (`payment_risk_needs_review`) flags the order for review, once per
payment, so whichever path records the payment first (the browser's confirm or the webhook's
task) holds access back until staff release it (`order_review_release`).
"""

from checkout.services.accounting.record import (
    PaymentWithoutOrder,
    order_payment_record,
    order_review_release,
)
from checkout.services.accounting.totals import OrderTotals, order_totals

__all__ = [
    "OrderTotals",
    "PaymentWithoutOrder",
    "order_payment_record",
    "order_review_release",
    "order_totals",
]
