"""A snapshot in words: every amount and date formatted with Babel for the buyer's locale, at the
edge (STYLE.md, Money). Amounts go through checkout's `money_format`, so the PDF, the emails and
the portal write money the same way."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent

from config.money import money_format
from receipts.rendering.words import CARD_BRANDS, GENERIC_TAX_LABELS, TAX_LABEL, words_for


def rate_text(rate_bp: int, locale: str) -> str:
    # The locale's own pattern ("20%", "20 %"), keeping a fractional rate's decimals (7.5%).
    return format_percent(Decimal(rate_bp) / 10_000, locale=locale, decimal_quantization=False)


def date_text(value: str, locale: str) -> str:
    return format_date(date.fromisoformat(value), format="long", locale=locale)


def moment_text(value: str, *, zone: str, locale: str) -> str:
    """ "23 November 2026, 14:05 (Europe/Berlin)" in the zone, for people."""
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
    day = format_date(moment.date(), format="long", locale=locale)
    return f"{day}, {format_time(moment.time(), format='HH:mm', locale=locale)} ({zone})"


def utc_text(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")


def card_text(payment: dict[str, Any], words: dict[str, str]) -> str:
    if not payment.get("last4"):
        return words["card_unknown"]
    brand = CARD_BRANDS.get(payment.get("brand", ""), (payment.get("brand") or "").title())
    return words["card"].format(brand=brand or words["card_unknown"], last4=payment["last4"])


def document_context(snapshot: dict[str, Any]) -> dict[str, Any]:
    buyer = snapshot["buyer"]
    language, locale = buyer["language"], buyer["locale"]
    words = words_for(language)
    currency = snapshot["currency"]

    def money(amount: int) -> str:
        return money_format(amount, currency, locale=locale)

    is_credit = snapshot["kind"] == "credit_note"
    lines = [
        {
            "description": line["description"],
            "quantity": format_decimal(line["quantity"], locale=locale),
            "unit_net": money(line["unit_net"]),
            "rate": rate_text(line["tax_rate_bp"], locale),
            "net": money(line["net"]),
        }
        for line in snapshot["lines"]
    ]
    taxes = [
        {
            "text": words["tax_line"].format(
                label=_tax_label(tax["label"], language),
                rate=rate_text(tax["rate_bp"], locale),
                net=money(tax["net"]),
            ),
            "amount": money(tax["tax"]),
        }
        for tax in snapshot["taxes"]
    ]
    payment = snapshot["payment"]
    order = snapshot.get("order")
    corrects = snapshot.get("corrects")
    moment = payment.get("refunded_at") if is_credit else payment["paid_at"]
    return {
        "w": words,
        "language": language,
        "kind": snapshot["kind"],
        "title": words["credit_note" if is_credit else "receipt"],
        "subtitle": words["credit_note_subtitle" if is_credit else "receipt_subtitle"],
        "number": snapshot["number"],
        "issue_date": date_text(snapshot["issue_date"], locale),
        "seller": snapshot["seller"],
        "buyer": buyer,
        "buyer_country": _country_name(buyer["country"], locale),
        "seller_country": _country_name(snapshot["seller"]["country"], locale),
        "lines": lines,
        "taxes": taxes,
        "net": money(snapshot["net"]),
        "total": money(snapshot["total"]),
        "settled_label": words["refunded" if is_credit else "paid"],
        "amount_due": money(0),
        "order": order
        and {
            "reference": order["reference"],
            "total": money(order["total"]),
            "paid_so_far": money(order["paid_so_far"]),
            "balance": money(order["balance"]),
            # A part payment (deposit, balance) shows where the order stands.
            "has_balance": order["balance"] > 0 or order["total"] != snapshot["total"],
        },
        "order_reference": (order or {}).get("reference")
        or (corrects or {}).get("order_reference", ""),
        "card": card_text(payment, words),
        "moment_label": words["refunded_at" if is_credit else "paid_at"],
        "moment_local": moment_text(moment, zone=buyer["time_zone"], locale=locale),
        "moment_utc": utc_text(moment),
        "method_label": words["refunded_to" if is_credit else "paid_by"],
        "payment_reference": payment.get("stripe_refund") if is_credit else "",
        "stripe_reference": payment.get("stripe_reference", ""),
        "corrects": corrects
        and words["corrects"].format(
            number=corrects["number"], date=date_text(corrects["issue_date"], locale)
        ),
        "reason": snapshot.get("reason", ""),
    }


def _tax_label(label: str, language: str) -> str:
    """The seller's name for the tax, unless it is the generic English one on a document in
    another language."""
    if not label or (label in GENERIC_TAX_LABELS and language != "en"):
        return TAX_LABEL.get(language, "VAT")
    return label


def _country_name(code: str, locale: str) -> str:
    from babel import Locale

    if not code:
        return ""
    return Locale.parse(locale).territories.get(code, code)
