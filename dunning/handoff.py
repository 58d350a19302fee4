"""What checkout asks dunning, by name (CHECKOUT_PAYMENT_FAILED_NOTICE_OWNER): checkout never
imports dunning (DESIGN.md §2b)."""

from __future__ import annotations

from dunning.models import ACTIVE_STATUSES, DunningCase
from dunning.services.policies import dunning_policy_follows
from payments.models import Payment


def dunning_owns_failure_notice(*, order, payment: Payment) -> bool:
    """True when dunning tells the buyer about this failed payment, so checkout's own
    `payment_failed` email is not sent: a buyer never gets both.

    - our own retries and payment-link payments: always (the case tells the buyer);
    - a checkout payment or a renewal of an offer dunning follows: yes. A checkout failure
      opens its case only after the grace period, and the case's first email (sent at once,
      whatever the hour) is the one message about it: the buyer on the page already sees what
      happened and what to do there, and a buyer who pays within the grace gets no failure
      email at all, only the confirmation;
    - a portal balance payment: only while a case is open for the order.
    Runs inside checkout's order lock: it only reads.
    """
    if (payment.metadata or {}).get("dunning_case"):
        return True
    if payment.attempt_kind in (Payment.AttemptKind.CHECKOUT, Payment.AttemptKind.RENEWAL):
        return dunning_policy_follows(offer=order.offer)
    return DunningCase.objects.filter(order=order, status__in=ACTIVE_STATUSES).exists()
