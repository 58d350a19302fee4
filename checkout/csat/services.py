"""Payment CSAT: "How easy was paying?", answered once per order through a signed link.

The link carries the order's id signed with a salt and a timestamp (django.core.signing), so it
needs no login and no table, cannot be turned into another order's link, and expires after
CHECKOUT_CSAT_LINK_MAX_AGE_SECONDS. The first answer stands; a second one for the same order is
refused (the unique order on PaymentCsat decides a race between two tabs).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from checkout.models import Order, PaymentCsat
from payments.models import PAID_STATUSES

_SALT = "checkout.csat.link"


class CsatLinkInvalid(Exception):
    """The link was tampered with, is not ours, or names an order that cannot be rated."""


class CsatLinkExpired(CsatLinkInvalid):
    """The link is genuine but older than CHECKOUT_CSAT_LINK_MAX_AGE_SECONDS."""


class CsatAlreadyAnswered(Exception):
    """This order has its answer already; the first one stands."""

    def __init__(self, answer: PaymentCsat):
        super().__init__(f"order {answer.order_id} was answered at {answer.answered_at}")
        self.answer = answer


def csat_token_make(*, order: Order) -> str:
    return signing.dumps({"o": order.pk}, salt=_SALT, compress=True)


def csat_url(*, order: Order, absolute: bool = True) -> str:
    path = reverse("checkout:csat", kwargs={"token": csat_token_make(order=order)})
    return settings.PORTAL_BASE_URL.rstrip("/") + path if absolute else path


def csat_order_for_token(*, token: str) -> Order:
    """The order a link was made for; raises CsatLinkExpired or CsatLinkInvalid."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.CHECKOUT_CSAT_LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise CsatLinkExpired(str(exc)) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise CsatLinkInvalid(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("o"), int):
        raise CsatLinkInvalid("malformed")
    order = Order.objects.select_related("offer").filter(pk=data["o"]).first()
    if order is None:
        raise CsatLinkInvalid("no such order")
    if not order.payments.filter(status__in=PAID_STATUSES).exists():
        # Links are made only for paid orders; nothing to rate otherwise.
        raise CsatLinkInvalid("order was never paid")
    return order


def csat_answer_for(*, order: Order) -> PaymentCsat | None:
    return PaymentCsat.objects.filter(order=order).first()


def csat_answer(
    *, order: Order, score: int, comment: str = "", source: str = PaymentCsat.Source.EMAIL
) -> PaymentCsat:
    """Record the order's one answer. Raises CsatAlreadyAnswered (with the standing answer) if
    it has one, ValueError for a score outside 1 to 5 or a comment that is too long."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError("The score is a whole number from 1 to 5.")
    comment = (comment or "").strip()
    if len(comment) > PaymentCsat.COMMENT_MAX_LENGTH:
        raise ValueError(f"The comment is at most {PaymentCsat.COMMENT_MAX_LENGTH} characters.")
    if source not in PaymentCsat.Source.values:
        raise ValueError(f"Unknown source {source!r}.")
    existing = csat_answer_for(order=order)
    if existing is not None:
        raise CsatAlreadyAnswered(existing)
    try:
        with transaction.atomic():
            return PaymentCsat.objects.create(
                order=order,
                score=score,
                comment=comment,
                source=source,
                answered_at=timezone.now(),
            )
    except IntegrityError:
        # Lost a race on the unique order: the other answer stands.
        winner = csat_answer_for(order=order)
        if winner is None:
            raise
        raise CsatAlreadyAnswered(winner) from None
