"""The machine-readable half: a Factur-X (ZUGFeRD 2) XML of the EN 16931 profile, built from the
same snapshot as the PDF by the `factur-x` library, and embedded in the PDF/A-3b file.

The XML is built by `facturx.generate_xml` from its data dictionary (EN 16931 business terms,
BT-…) and checked against the official XSD that ships with the library; nothing here writes
XML by hand. A receipt is a commercial invoice (type 380) marked as paid: the paid amount
(BT-113) is the total and nothing is due (BT-115), paid by card (payment means 48) whose last
four digits are the only part of the card number given (BT-87). A credit note is type 381 and
names the receipt it corrects (BG-3).

The library's Schematron check needs a Saxon server, which the portal does not run; the tests
check the business rules that matter here (totals, tax, number and dates equal the PDF's text).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from facturx import generate_from_binary
from facturx.generate_xml import generate_xml
from pypdf import PdfReader, PdfWriter

from receipts.rendering.context import card_text
from receipts.rendering.words import words_for

EN16931 = "urn:cen.eu:en16931:2017"
TYPE_INVOICE = "380"
TYPE_CREDIT_NOTE = "381"
PAYMENT_MEANS_CARD = "48"
# UN/ECE rec 20 "one" (a unit): a course, an access, a subscription period.
UNIT_ONE = "C62"
# The library rewrites the PDF with pypdf and says so in the XMP it writes (pdf:Producer). The
# PDF is rendered with the same producer in its document information, so the two agree without
# a second rewrite; `_producer_matching_xmp` still checks, and rewrites if a version differs.
FINAL_PRODUCER = "pypdf"


def amount_text(amount: int, exponent: int) -> str:
    """Minor units as the XML's decimal string (12345, 2 -> "123.45"; JPY 500, 0 -> "500")."""
    value = Decimal(amount).scaleb(-exponent)
    return f"{value:.{exponent}f}"


def _party(party: dict[str, Any], *, seller: bool) -> dict[str, Any]:
    if seller:
        lines = party["address_lines"]
        data = {
            "name": party["legal_name"],
            "addr_l1": lines[0] if lines else "",
            "addr_l2": lines[1] if len(lines) > 1 else "",
            "postcode": party["postcode"],
            "city": party["city"],
            "country_code": party["country"],
            "vat_identifier": party["vat_id"],
            "tax_identifier": party["tax_number"],
            "legal_identifier": party["registration_id"],
            "einvoicing_addr": party["email"],
            "einvoicing_addr_schemeid": "EM",
        }
    else:
        data = {
            "name": party["company"] or party["name"],
            "country_code": party["country"] or settings.SELLER_COUNTRY.upper(),
            "vat_identifier": party["vat_id"],
            "contacts": [{"name": party["name"], "email": party["email"]}],
            "einvoicing_addr": party["email"],
            "einvoicing_addr_schemeid": "EM",
        }
    return {key: value for key, value in data.items() if value}


def facturx_data(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The library's data dictionary for a snapshot (EN 16931 business terms)."""
    exponent = snapshot["exponent"]

    def money(amount: int) -> str:
        return amount_text(amount, exponent)

    is_credit = snapshot["kind"] == "credit_note"
    payment = snapshot["payment"]
    moment = payment.get("refunded_at") if is_credit else payment["paid_at"]
    # The day the buyer paid, as the PDF prints it (in the buyer's time zone).
    paid_on = _local_date(moment, snapshot["buyer"]["time_zone"])
    words = words_for("en")
    data: dict[str, Any] = {
        "BT-1": snapshot["number"],
        "BT-2": date.fromisoformat(snapshot["issue_date"]),
        "BT-3": TYPE_CREDIT_NOTE if is_credit else TYPE_INVOICE,
        "BT-5": snapshot["currency"],
        "BT-24": EN16931,
        "BG-4": _party(snapshot["seller"], seller=True),
        "BG-7": _party(snapshot["buyer"], seller=False),
        "BT-72": paid_on,
        "BT-81": PAYMENT_MEANS_CARD,
        "BT-82": card_text(payment, words),
        "BT-20": f"{'Refunded' if is_credit else 'Paid'} by card on {paid_on.isoformat()}",
        "BT-106": money(snapshot["net"]),
        "BT-109": money(snapshot["net"]),
        "BT-110": money(snapshot["tax"]),
        "BT-112": money(snapshot["total"]),
        "BT-113": money(snapshot["total"]),
        "BT-115": money(0),
        "BG-23": [
            {
                "BT-116": money(tax["net"]),
                "BT-117": money(tax["tax"]),
                "BT-118": tax["category"],
                "BT-119": f"{Decimal(tax['rate_bp']) / 100:.2f}",
            }
            for tax in snapshot["taxes"]
        ],
        "BG-25": [
            {
                "BT-126": str(index),
                "BT-129": str(line["quantity"]),
                "BT-130": UNIT_ONE,
                "BT-131": money(line["net"]),
                "BT-146": money(line["unit_net"]),
                "BT-151": "S" if line["tax_rate_bp"] > 0 else settings.RECEIPTS_ZERO_TAX_CATEGORY,
                "BT-152": f"{Decimal(line['tax_rate_bp']) / 100:.2f}",
                "BT-153": line["description"] or "-",
            }
            for index, line in enumerate(snapshot["lines"], start=1)
        ],
    }
    if payment.get("last4"):
        data["BT-87"] = payment["last4"]
    if payment.get("stripe_reference"):
        data["BT-83"] = payment["stripe_reference"]
    order_reference = (snapshot.get("order") or snapshot.get("corrects") or {}).get(
        "order_reference"
    ) or (snapshot.get("order") or {}).get("reference")
    if order_reference:
        data["BT-14"] = order_reference
    if is_credit:
        corrects = snapshot["corrects"]
        data["BG-3"] = [
            {"BT-25": corrects["number"], "BT-26": date.fromisoformat(corrects["issue_date"])}
        ]
        if snapshot.get("reason"):
            data["BG-1"] = [{"BT-22": snapshot["reason"]}]
    return data


def _local_date(moment: str, zone: str) -> date:
    return datetime.fromisoformat(moment).astimezone(ZoneInfo(zone)).date()


def facturx_xml(snapshot: dict[str, Any]) -> bytes:
    """The Factur-X XML for a snapshot, checked against the EN 16931 XSD (raises if invalid)."""
    return generate_xml(facturx_data(snapshot), check_xsd=True, check_schematron=False)


def facturx_embed(pdf: bytes, xml: bytes, *, snapshot: dict[str, Any]) -> bytes:
    """Embed the XML in the PDF/A-3b file as Factur-X (the library writes the attachment, its
    AFRelationship and the PDF/A extension schema in the XMP metadata)."""
    seller = snapshot["seller"]["legal_name"]
    words = words_for(snapshot["buyer"]["language"])
    title = words["credit_note" if snapshot["kind"] == "credit_note" else "receipt"]
    combined = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=False,  # facturx_xml checked it
        pdf_metadata={
            "author": seller,
            "keywords": "Factur-X, EN 16931, invoice",
            "title": f"{title} {snapshot['number']}",
            "subject": f"{title} {snapshot['number']}, {seller}",
        },
        lang=snapshot["buyer"]["locale"].replace("_", "-"),
    )
    return _producer_matching_xmp(combined)


def _producer_matching_xmp(pdf: bytes) -> bytes:
    """PDF/A requires the document information to equal the XMP metadata. The library rewrites
    the XMP (whose pdf:Producer it sets to "pypdf") but leaves WeasyPrint's /Producer in the
    information dictionary: make them agree, as veraPDF's rule 6.6.2.3.1 asks."""
    reader = PdfReader(io.BytesIO(pdf))
    producer = _xmp_producer(reader)
    if producer is None or reader.metadata.get("/Producer") == producer:
        return pdf
    writer = PdfWriter(clone_from=reader)
    writer.pdf_header = reader.pdf_header  # PDF 1.7, as WeasyPrint wrote it
    writer.add_metadata({"/Producer": producer})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _xmp_producer(reader: PdfReader) -> str | None:
    xmp = reader.xmp_metadata
    return xmp.pdf_producer if xmp is not None else None
