"""The machine-readable half: the Factur-X XML passes the library's XSD check, says exactly what
the PDF says (totals, tax, number, dates), and the file is still PDF/A-3b after embedding.

A mismatch between the XML and the PDF text would be two different invoices in one file."""

import io
from datetime import date
from decimal import Decimal

import pytest
from babel.dates import format_date
from facturx import get_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader

from config.money import money_format
from receipts.models import CreditNote, Receipt
from receipts.rendering.einvoice import facturx_xml
from receipts.rendering.pdf import document_html, html_to_pdf
from tests.receipts.factories import paid_order, refund_succeeded
from tests.receipts.pdfs import normalise, pdf_text, pdfa3b_problems, stored_pdf

pytestmark = pytest.mark.django_db(transaction=True)

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
SUMMATION = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/"


def _xml_of(pdf: bytes) -> bytes:
    filename, xml = get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    return xml


def _x(tree, path: str) -> str:
    return str(tree.xpath(f"string({path})", namespaces=NS)).strip()


def _minor(value: str, exponent: int) -> int:
    return int(Decimal(value).scaleb(exponent))


def _xml_date(value: str) -> date:
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


def _check_xml_equals_pdf(document) -> tuple[etree._Element, str]:
    pdf = stored_pdf(document)
    xml = _xml_of(pdf)
    xml_check_xsd(xml, flavor="factur-x", level="en16931")  # raises if invalid
    tree = etree.fromstring(xml)
    text = pdf_text(pdf)
    snapshot = document.snapshot
    locale, exponent, currency = (
        snapshot["buyer"]["locale"],
        snapshot["exponent"],
        snapshot["currency"],
    )

    def printed(value: str) -> str:
        return normalise(money_format(_minor(value, exponent), currency, locale=locale))

    assert _x(tree, "//rsm:ExchangedDocument/ram:ID") == document.number
    assert document.number in text
    assert _x(tree, "//ram:InvoiceCurrencyCode") == currency
    issued = _xml_date(_x(tree, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"))
    assert issued.isoformat() == snapshot["issue_date"]
    assert normalise(format_date(issued, "long", locale=locale)) in text

    net = _x(tree, SUMMATION + "ram:TaxBasisTotalAmount")
    tax = _x(tree, SUMMATION + "ram:TaxTotalAmount")
    total = _x(tree, SUMMATION + "ram:GrandTotalAmount")
    paid = _x(tree, SUMMATION + "ram:TotalPrepaidAmount")
    due = _x(tree, SUMMATION + "ram:DuePayableAmount")
    assert _x(tree, SUMMATION + "ram:LineTotalAmount") == net
    assert (_minor(net, exponent), _minor(tax, exponent), _minor(total, exponent)) == (
        document.net, document.tax, document.total,
    )  # fmt: skip
    assert paid == total and _minor(due, exponent) == 0  # marked as paid
    for value in (net, tax, total, due):
        assert printed(value) in text, value

    # Tax by rate: each breakdown's base and amount are the PDF's tax lines.
    breakdowns = tree.xpath(
        "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS
    )
    assert len(breakdowns) == len(snapshot["taxes"]) >= 1
    for breakdown in breakdowns:
        base, amount = _x(breakdown, "ram:BasisAmount"), _x(breakdown, "ram:CalculatedAmount")
        assert f"{printed(base)} {printed(amount)}" in text
    # Every line's net amount is on the PDF.
    lines = tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert len(lines) == len(snapshot["lines"])
    for line in lines:
        assert _x(line, ".//ram:SpecifiedTradeProduct/ram:Name") in text
        assert printed(_x(line, ".//ram:LineTotalAmount")) in text

    # Paid by card: the payment means and the last four digits, nothing more of the card.
    assert _x(tree, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == "48"
    assert _x(tree, "//ram:ApplicableTradeSettlementFinancialCard/ram:ID") == "4242"
    assert "4242" in text
    # Seller and buyer.
    assert _x(tree, "//ram:SellerTradeParty/ram:Name") in text
    vat = _x(tree, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']")
    assert vat and vat in text
    assert _x(tree, "//ram:BuyerTradeParty/ram:Name") in text
    # The delivery (payment) date is the day printed as "paid on".
    delivered = _xml_date(_x(tree, "//ram:ActualDeliverySupplyChainEvent//udt:DateTimeString"))
    assert normalise(format_date(delivered, "long", locale=locale)) in text
    return tree, text


def test_a_receipts_xml_is_valid_and_equal_to_its_pdf(celery_eager):
    _, payment = paid_order(price=12_000, tax_rate_bp=2000)
    receipt = Receipt.objects.get(payment=payment)
    tree, _ = _check_xml_equals_pdf(receipt)
    assert _x(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert _x(tree, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == (
        "urn:cen.eu:en16931:2017"
    )
    assert _x(tree, "//ram:SellerOrderReferencedDocument/ram:IssuerAssignedID") == (
        payment.order.reference
    )


def test_german_and_yen_receipts_agree_with_their_xml(celery_eager):
    for kwargs in (
        {"country": "DE", "price": 11_900, "tax_rate_bp": 1900},
        {"currency": "JPY", "price": 12_000, "tax_rate_bp": 1000, "country": "JP"},
        {"country": "US", "price": 5_000, "tax_rate_bp": 0},
    ):
        _, payment = paid_order(**kwargs)
        tree, _ = _check_xml_equals_pdf(Receipt.objects.get(payment=payment))
    assert (
        _x(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode")
        == "Z"
    )


def test_a_credit_note_is_a_factur_x_credit_note_that_names_its_receipt(celery_eager):
    _, payment = paid_order()
    refund_succeeded(payment, 3_000, reason="Missed the first session")
    note = CreditNote.objects.get()
    tree, text = _check_xml_equals_pdf(note)
    receipt = note.receipt

    assert _x(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert _x(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == receipt.number
    referenced = _xml_date(_x(tree, "//ram:InvoiceReferencedDocument//qdt:DateTimeString"))
    assert referenced.isoformat() == receipt.snapshot["issue_date"]
    assert f"Corrects receipt {receipt.number}" in text
    assert "Missed the first session" in text
    assert pdfa3b_problems(stored_pdf(note), with_facturx=True) == []


def test_the_pdf_is_pdf_a_3b_before_and_after_the_xml_is_embedded(celery_eager):
    _, payment = paid_order()
    receipt = Receipt.objects.get(payment=payment)
    before, _ = html_to_pdf(document_html(receipt.snapshot))
    assert pdfa3b_problems(before, with_facturx=False) == []

    after = stored_pdf(receipt)
    assert pdfa3b_problems(after, with_facturx=True) == []
    # The attached XML is the one built from the snapshot, byte for byte.
    reader = PdfReader(io.BytesIO(after))
    assert reader.attachments["factur-x.xml"] == [facturx_xml(receipt.snapshot)]
    assert reader.trailer["/Root"]["/PageMode"] == "/UseAttachments"


def test_a_broken_xml_fails_the_xsd_check():
    """The check the tests rely on can fail: a receipt without its number is refused."""
    with pytest.raises(Exception, match=r"(?i)schema|xsd|required"):
        xml_check_xsd(b"<rsm:CrossIndustryInvoice xmlns:rsm='" + NS["rsm"].encode() + b"'/>",
                      flavor="factur-x", level="en16931")  # fmt: skip
