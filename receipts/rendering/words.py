"""The words on a receipt or credit note, in each language it is written in.

A table, not a message catalogue: receipts are the only documents written in the buyer's
language, and the table keeps both languages side by side where a reviewer can compare them.
Placeholders are filled with `str.format`; every value is escaped by the template.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "receipt": "Receipt",
        "receipt_subtitle": "Invoice, paid",
        "credit_note": "Credit note",
        "credit_note_subtitle": "Correction of an invoice, refunded",
        "number": "Number",
        "issued_on": "Date of issue",
        "seller": "From",
        "buyer": "Billed to",
        "vat_id": "VAT ID",
        "tax_number": "Tax number",
        "registration_id": "Company number",
        "email": "Email",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price (net)",
        "tax_rate": "VAT",
        "amount": "Amount (net)",
        "subtotal": "Subtotal (net)",
        "tax_line": "{label} {rate} on {net}",
        "total": "Total",
        "paid": "Paid",
        "refunded": "Refunded",
        "amount_due": "Amount due",
        "order_total": "Order total",
        "paid_so_far": "Paid so far",
        "balance": "Balance still due",
        "payment": "Payment",
        "paid_by": "Paid by",
        "refunded_to": "Refunded to",
        "card": "{brand} card ending {last4}",
        "card_unknown": "Card",
        "paid_at": "Paid on",
        "refunded_at": "Refunded on",
        "utc": "In UTC",
        "payment_reference": "Payment reference",
        "order_reference": "Order reference",
        "corrects": "Corrects receipt {number} of {date}",
        "reason": "Reason",
        "line_deposit": "Deposit: {items}",
        "line_balance": "Balance: {items}",
        "line_part": "Part payment: {items}",
        "line_refund": "Refund on receipt {number}: {items}",
        "einvoice": "This PDF contains the same invoice as an electronic invoice "
        "(Factur-X, EN 16931) for your accounting software.",
        "keep": "Please keep this document for your records.",
        "page": "Page",
        "of": "of",
    },
    "de": {
        "receipt": "Quittung",
        "receipt_subtitle": "Rechnung, bezahlt",
        "credit_note": "Rechnungskorrektur",
        "credit_note_subtitle": "Korrektur einer Rechnung, erstattet",
        "number": "Nummer",
        "issued_on": "Ausstellungsdatum",
        "seller": "Von",
        "buyer": "Rechnungsempfänger",
        "vat_id": "USt-IdNr.",
        "tax_number": "Steuernummer",
        "registration_id": "Handelsregister",
        "email": "E-Mail",
        "description": "Beschreibung",
        "quantity": "Menge",
        "unit_price": "Einzelpreis (netto)",
        "tax_rate": "USt.",
        "amount": "Betrag (netto)",
        "subtotal": "Zwischensumme (netto)",
        "tax_line": "{label} {rate} auf {net}",
        "total": "Gesamtbetrag",
        "paid": "Bezahlt",
        "refunded": "Erstattet",
        "amount_due": "Offener Betrag",
        "order_total": "Bestellsumme",
        "paid_so_far": "Bisher bezahlt",
        "balance": "Noch offen",
        "payment": "Zahlung",
        "paid_by": "Bezahlt mit",
        "refunded_to": "Erstattet auf",
        "card": "{brand}-Karte mit Endziffern {last4}",
        "card_unknown": "Karte",
        "paid_at": "Bezahlt am",
        "refunded_at": "Erstattet am",
        "utc": "In UTC",
        "payment_reference": "Zahlungsreferenz",
        "order_reference": "Bestellnummer",
        "corrects": "Korrigiert Quittung {number} vom {date}",
        "reason": "Grund",
        "line_deposit": "Anzahlung: {items}",
        "line_balance": "Restzahlung: {items}",
        "line_part": "Teilzahlung: {items}",
        "line_refund": "Erstattung zu Quittung {number}: {items}",
        "einvoice": "Diese PDF-Datei enthält dieselbe Rechnung als elektronische Rechnung "
        "(Factur-X, EN 16931) für Ihre Buchhaltungssoftware.",
        "keep": "Bitte bewahren Sie dieses Dokument auf.",
        "page": "Seite",
        "of": "von",
    },
}

# What the tax is called, by language, when the rate itself has no label.
TAX_LABEL = {"en": "VAT", "de": "USt."}
# Labels that only say "tax" in English: written in the document's language instead.
GENERIC_TAX_LABELS = {"VAT", "Tax", "TAX", "vat", "tax"}

CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
}


def words_for(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["en"])
