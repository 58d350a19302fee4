"""What a document shows, frozen when it is issued.

A snapshot is plain JSON: integer minor units, ISO dates, codes. Everything the PDF and the
Factur-X XML print comes from it and from nothing else, so a later edit to an offer, an order or
the SELLER_* settings never changes an issued receipt, and re-rendering gives the same text.

Amounts of a receipt are the amounts of its payment:
- a payment of the whole order carries the order's lines;
- a deposit, a balance or another part payment carries one line per tax rate for its share of
  the order, with the tax split in proportion; the payment that completes an order takes what
  is left of each rate after the receipts before it, so an order's receipts add up to the order
  exactly.
A credit note carries its refund's share of the receipt the same way.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from django.conf import settings
from django.utils import timezone

from checkout.models import Order
from payments import gateway
from payments.models import PAID_STATUSES, Customer, Payment
from receipts.models import BuyerBillingDetails, Receipt
from receipts.rendering.locales import buyer_language, buyer_locale, buyer_time_zone
from receipts.rendering.words import words_for

SNAPSHOT_VERSION = 1
# Long user text is cut so a document stays one readable page and a render stays quick.
_TEXT_MAX = 200


def _text(value: Any, limit: int = _TEXT_MAX) -> str:
    return " ".join(str(value or "").split())[:limit]


def seller_snapshot() -> dict[str, Any]:
    lines = [line.strip() for line in re.split(r"[\n|]", settings.SELLER_ADDRESS) if line.strip()]
    return {
        "legal_name": settings.SELLER_LEGAL_NAME,
        "address_lines": lines,
        "postcode": settings.SELLER_POSTCODE,
        "city": settings.SELLER_CITY,
        "country": settings.SELLER_COUNTRY.upper(),
        "vat_id": settings.SELLER_TAX_ID,
        "tax_number": settings.SELLER_TAX_NUMBER,
        "registration_id": settings.SELLER_REGISTRATION_ID,
        "email": settings.SELLER_SUPPORT_EMAIL,
    }


def buyer_snapshot(*, email: str, name: str, country: str, lead_company: str = "") -> dict:
    email = (email or "").strip().lower()
    details = BuyerBillingDetails.objects.filter(email__iexact=email).first()
    country = (country or "").upper()
    language = buyer_language(country=country, preferred=details.language if details else "")
    return {
        "name": _text(name) or email,
        "email": email,
        "country": country,
        "company": _text((details.company if details else "") or lead_company),
        "vat_id": _text(details.vat_id if details else "", 32),
        "language": language,
        "locale": buyer_locale(language=language, country=country),
        "time_zone": buyer_time_zone(
            country=country, preferred=details.time_zone if details else ""
        ),
    }


def _issue_moment(now: datetime | None) -> dict[str, Any]:
    now = now or timezone.now()
    local = now.astimezone(ZoneInfo(settings.RECEIPTS_TIME_ZONE))
    return {
        "issued_at": now.isoformat(),
        "issue_date": local.date().isoformat(),
        "year": local.year,
    }


def _category(rate_bp: int) -> str:
    return "S" if rate_bp > 0 else settings.RECEIPTS_ZERO_TAX_CATEGORY


def _order_lines(order: Order) -> list[dict[str, Any]]:
    """The order's frozen lines, net of tax (what an invoice line is)."""
    lines = []
    for item in order.lines or []:
        if not isinstance(item, dict):
            continue
        quantity = max(int(item.get("quantity") or 1), 1)
        net = int(item.get("subtotal", 0))
        lines.append(
            {
                "description": _text(item.get("name") or order.offer.name),
                "quantity": quantity,
                "unit_net": net // quantity if net % quantity == 0 else round(net / quantity),
                "net": net,
                "tax_rate_bp": int(item.get("tax_rate_bp") or 0),
                "tax_label": _text(item.get("tax_label"), 30),
                "tax": int(item.get("tax", 0)),
            }
        )
    if not lines or sum(line["net"] for line in lines) != order.subtotal:
        # An order without (or with inconsistent) line detail: one line for the whole.
        rate = round(order.tax * 10_000 / order.subtotal) if order.subtotal else 0
        lines = [
            {
                "description": _text(order.offer.name),
                "quantity": 1,
                "unit_net": order.subtotal,
                "net": order.subtotal,
                "tax_rate_bp": rate,
                "tax_label": "",
                "tax": order.tax,
            }
        ]
    return lines


def _taxes_of(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_rate: dict[int, dict[str, Any]] = {}
    for line in lines:
        rate = by_rate.setdefault(
            line["tax_rate_bp"],
            {
                "rate_bp": line["tax_rate_bp"],
                "label": line["tax_label"],
                "category": _category(line["tax_rate_bp"]),
                "net": 0,
                "tax": 0,
            },
        )
        rate["net"] += line["net"]
        rate["tax"] += line["tax"]
    return [by_rate[bp] for bp in sorted(by_rate, reverse=True)]


def _share(
    taxes: list[dict[str, Any]], *, amount: int, whole: int, before: dict[int, tuple[int, int]]
) -> list[dict[str, Any]]:
    """`amount` of a document worth `whole` (gross), split over its tax rates.

    `before` is what earlier documents already took of each rate (net, tax), when they took all
    but `amount`: then this one takes exactly what is left, so the parts add up to the whole.
    Otherwise each rate gets its gross share (largest remainder, so the shares add up to
    `amount`) and the tax in it in proportion, rounded half up.
    """
    if before is not None and before.get("complete"):
        return [
            {
                **rate,
                "net": rate["net"] - before.get(rate["rate_bp"], (0, 0))[0],
                "tax": rate["tax"] - before.get(rate["rate_bp"], (0, 0))[1],
            }
            for rate in taxes
        ]
    grosses = [rate["net"] + rate["tax"] for rate in taxes]
    shares = [amount * g // whole for g in grosses]
    leftover = amount - sum(shares)
    order = sorted(range(len(taxes)), key=lambda i: (amount * grosses[i]) % whole, reverse=True)
    for i in order[:leftover]:
        shares[i] += 1
    parts = []
    for rate, gross, share in zip(taxes, grosses, shares, strict=True):
        tax = (2 * share * rate["tax"] + gross) // (2 * gross) if gross else 0
        parts.append({**rate, "net": share - tax, "tax": tax})
    return [p for p in parts if p["net"] or p["tax"]]


def _lines_for_share(parts: list[dict[str, Any]], description: str) -> list[dict[str, Any]]:
    return [
        {
            "description": description,
            "quantity": 1,
            "unit_net": part["net"],
            "net": part["net"],
            "tax_rate_bp": part["rate_bp"],
            "tax_label": part["label"],
            "tax": part["tax"],
        }
        for part in parts
    ]


def _received(payment: Payment) -> int:
    return payment.amount_received or payment.amount


def _card(payment: Payment) -> dict[str, str]:
    """The card the payment was made with: the customer's saved card when it is the one used,
    otherwise Stripe's own record of the payment method (best effort: a receipt is never held
    up by Stripe being slow)."""
    customer: Customer | None = payment.customer
    if (
        customer
        and customer.card_last4
        and (
            not payment.payment_method_id or customer.payment_method_id == payment.payment_method_id
        )
    ):
        return {"brand": customer.card_brand, "last4": customer.card_last4}
    if payment.payment_method_id:
        try:
            card = gateway.payment_method_card(payment.payment_method_id)
        except gateway.GatewayError:
            return {"brand": "", "last4": ""}
        return {"brand": card.brand or "", "last4": card.last4 or ""}
    return {"brand": "", "last4": ""}


def _payment_snapshot(payment: Payment) -> dict[str, Any]:
    paid_at = payment.succeeded_at or payment.updated_at or timezone.now()
    return {
        "method": "card",
        **_card(payment),
        "stripe_reference": payment.stripe_payment_intent_id or "",
        "stripe_charge": payment.stripe_charge_id or "",
        "paid_at": paid_at.isoformat(),
        "attempt_kind": payment.attempt_kind,
    }


def _earlier_payments(order: Order, payment: Payment) -> list[Payment]:
    mine = (payment.succeeded_at or payment.created_at, payment.pk)
    return [
        p
        for p in order.payments.filter(status__in=PAID_STATUSES).exclude(pk=payment.pk)
        if (p.succeeded_at or p.created_at, p.pk) < mine
    ]


def receipt_snapshot_build(*, payment: Payment, now: datetime | None = None) -> dict[str, Any]:
    """Everything the receipt for `payment` shows. Reads only; the caller issues it."""
    amount = _received(payment)
    order = payment.order
    currency = payment.currency.upper()
    if order is None:
        customer = payment.customer
        buyer = buyer_snapshot(
            email=customer.email if customer else "",
            name=customer.name if customer else "",
            country="",
        )
        words = words_for(buyer["language"])
        lines = [
            {
                "description": _text(payment.metadata.get("description") or words["payment"]),
                "quantity": 1,
                "unit_net": amount,
                "net": amount,
                "tax_rate_bp": 0,
                "tax_label": "",
                "tax": 0,
            }
        ]
        order_part = None
    else:
        lead_company = order.lead.company if order.lead_id and order.lead else ""
        buyer = buyer_snapshot(
            email=order.email,
            name=order.name,
            country=order.billing_country,
            lead_company=lead_company,
        )
        words = words_for(buyer["language"])
        order_lines = _order_lines(order)
        earlier = _earlier_payments(order, payment)
        paid_before = sum(_received(p) for p in earlier)
        if amount == order.total and paid_before in (0, order.total):
            lines = order_lines  # the whole order (or a duplicate payment of it)
        else:
            before = _receipted_before(order, earlier, paid_before, amount)
            parts = _share(_taxes_of(order_lines), amount=amount, whole=order.total, before=before)
            items = ", ".join(dict.fromkeys(line["description"] for line in order_lines))
            if paid_before == 0 and order.amount_due_now < order.total:
                key = "line_deposit"
            elif paid_before + amount == order.total:
                key = "line_balance"
            else:
                key = "line_part"
            lines = _lines_for_share(parts, words[key].format(items=items))
        paid_so_far = paid_before + amount
        order_part = {
            "reference": order.reference,
            "total": order.total,
            "paid_so_far": paid_so_far,
            "balance": max(order.total - paid_so_far, 0),
        }
    return _document(
        kind="receipt",
        buyer=buyer,
        currency=currency,
        lines=lines,
        now=now,
        extra={"order": order_part, "payment": _payment_snapshot(payment)},
    )


def _receipted_before(
    order: Order, earlier: list[Payment], paid_before: int, amount: int
) -> dict[Any, Any] | None:
    """What the receipts of the earlier payments took of each rate, when this payment
    completes the order and every earlier payment has its receipt (else None: proportional)."""
    if paid_before + amount != order.total or not earlier:
        return None
    receipts = list(Receipt.objects.filter(payment__in=earlier).only("snapshot", "total"))
    if len(receipts) != len(earlier) or sum(r.total for r in receipts) != paid_before:
        return None
    taken: dict[Any, Any] = {"complete": True}
    for receipt in receipts:
        for rate in receipt.snapshot.get("taxes", []):
            net, tax = taken.get(rate["rate_bp"], (0, 0))
            taken[rate["rate_bp"]] = (net + rate["net"], tax + rate["tax"])
    return taken


def credit_note_snapshot_build(
    *,
    receipt: Receipt,
    amount: int,
    credited_before: list[dict[str, Any]],
    reason: str,
    refund: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """The credit note for `amount` of `receipt`. `credited_before` are the snapshots of the
    receipt's earlier credit notes: the one that credits what is left takes what is left of
    each rate."""
    original = receipt.snapshot
    buyer = original["buyer"]
    words = words_for(buyer["language"])
    credited = sum(s["total"] for s in credited_before)
    before: dict[Any, Any] | None = None
    if credited + amount == receipt.total:
        before = {"complete": True}
        for s in credited_before:
            for rate in s["taxes"]:
                net, tax = before.get(rate["rate_bp"], (0, 0))
                before[rate["rate_bp"]] = (net + rate["net"], tax + rate["tax"])
    parts = _share(original["taxes"], amount=amount, whole=receipt.total, before=before)
    items = ", ".join(dict.fromkeys(line["description"] for line in original["lines"]))
    description = words["line_refund"].format(number=receipt.number, items=items)
    return _document(
        kind="credit_note",
        buyer=buyer,
        currency=original["currency"],
        lines=_lines_for_share(parts, _text(description, 300)),
        now=now,
        extra={
            "order": None,
            "payment": {**original["payment"], **refund},
            "corrects": {
                "number": receipt.number,
                "issue_date": original["issue_date"],
                "order_reference": (original.get("order") or {}).get("reference", ""),
            },
            "reason": _text(reason, 300),
        },
    )


def _document(
    *,
    kind: str,
    buyer: dict[str, Any],
    currency: str,
    lines: list[dict[str, Any]],
    now: datetime | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    taxes = _taxes_of(lines)
    net = sum(line["net"] for line in lines)
    tax = sum(line["tax"] for line in lines)
    return {
        "version": SNAPSHOT_VERSION,
        "kind": kind,
        **_issue_moment(now),
        "seller": seller_snapshot(),
        "buyer": buyer,
        "currency": currency,
        "exponent": get_currency_precision(currency),
        "lines": lines,
        "taxes": taxes,
        "net": net,
        "tax": tax,
        "total": net + tax,
        **extra,
    }
