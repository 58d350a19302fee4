"""The PDF a person reads: every field of the snapshot printed (read back with pypdf), in the
buyer's language and locale, stored with its sha256, the same text when rendered again."""

import hashlib
import subprocess
from pathlib import Path

import pytest

from checkout.models import Offer
from config.money import money_format
from payments.models import Payment
from receipts.models import BuyerBillingDetails, Receipt
from receipts.rendering.pdf import document_render
from tests.receipts.factories import paid_order, pay_order
from tests.receipts.pdfs import pdf_text, stored_pdf

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seller(settings):
    settings.SELLER_LEGAL_NAME = "Lernwerk Schulungen GmbH"
    settings.SELLER_ADDRESS = "Beispielstraße 12|Hinterhaus"
    settings.SELLER_POSTCODE = "10115"
    settings.SELLER_CITY = "Berlin"
    settings.SELLER_COUNTRY = "DE"
    settings.SELLER_TAX_ID = "DE123456789"
    settings.SELLER_TAX_NUMBER = "30/123/45678"
    settings.SELLER_REGISTRATION_ID = "HRB 12345 B"
    settings.SELLER_SUPPORT_EMAIL = "rechnung@lernwerk.example"
    settings.RECEIPTS_TIME_ZONE = "Europe/Berlin"
    return settings


def _receipt(payment: Payment) -> Receipt:
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.status == Receipt.Status.STORED, receipt.last_error
    return receipt


def test_an_english_receipt_prints_every_field_of_its_snapshot(seller, celery_eager):
    BuyerBillingDetails.objects.create(
        email="ada@example.com", company="Analytical Engines Ltd", vat_id="GB123456789"
    )
    order, payment = paid_order(
        email="ada@example.com",
        name="Ada Lovelace",
        country="GB",
        price=12_000,
        offer_name="Data modelling course",
    )
    receipt = _receipt(payment)
    text = pdf_text(stored_pdf(receipt))
    snapshot = receipt.snapshot
    money = lambda amount: money_format(amount, "EUR", locale="en_GB")  # noqa: E731

    # The document: title, number, date of issue.
    assert "Receipt" in text and "Invoice, paid" in text
    assert receipt.number in text and receipt.number.startswith(f"R-{receipt.year}-")
    from babel.dates import format_date

    issued = format_date(receipt.issued_at.astimezone(_zone("Europe/Berlin")).date(), "long",
                         locale="en_GB")  # fmt: skip
    assert f"Date of issue {issued}" in text
    # The seller, from SELLER_*.
    for part in ("Lernwerk Schulungen GmbH", "Beispielstraße 12", "Hinterhaus", "10115 Berlin",
                 "Germany", "VAT ID: DE123456789", "Tax number: 30/123/45678",
                 "Company number: HRB 12345 B", "rechnung@lernwerk.example"):  # fmt: skip
        assert part in text, part
    # The buyer: name, email, billing country, company and VAT id.
    for part in ("BILLED TO", "Analytical Engines Ltd", "Ada Lovelace", "ada@example.com",
                 "United Kingdom", "VAT ID: GB123456789"):  # fmt: skip
        assert part in text, part
    # The line: description, quantity, unit price, amount (net of the 20% VAT in the price).
    assert snapshot["lines"] == [
        {"description": "Data modelling course", "quantity": 1, "unit_net": 10_000,
         "net": 10_000, "tax_rate_bp": 2000, "tax_label": "VAT", "tax": 2_000},
    ]  # fmt: skip
    assert f"Data modelling course 1 {money(10_000)} 20% {money(10_000)}" in text
    # Subtotal, tax by rate, total, paid, nothing due; the currency is in every amount.
    assert f"Subtotal (net) {money(10_000)}" in text
    assert f"VAT 20% on {money(10_000)} {money(2_000)}" in text
    assert f"Total {money(12_000)}" in text and f"Paid {money(12_000)}" in text
    assert f"Amount due {money(0)}" in text and "€" in money(1)
    # The payment: card brand and last4, Stripe's reference and our order reference, the time
    # in the buyer's time zone and in UTC.
    assert "Paid by Visa card ending 4242" in text
    assert f"Payment reference {payment.stripe_payment_intent_id}" in text
    assert f"Order reference {order.reference}" in text
    paid_utc = payment.succeeded_at.astimezone(_zone("UTC")).strftime("%Y-%m-%d %H:%M UTC")
    assert f"In UTC {paid_utc}" in text
    local = payment.succeeded_at.astimezone(_zone("Europe/London"))
    assert f"{local:%H:%M} (Europe/London)" in text
    # The footer and the e-invoice note.
    assert "Page 1 of 1" in text and "Factur-X, EN 16931" in text
    # Stored through the storage API with its digest.
    assert receipt.pdf_sha256 == hashlib.sha256(stored_pdf(receipt)).hexdigest()
    assert receipt.pdf_size == len(stored_pdf(receipt))


def _zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_a_german_buyer_gets_a_german_receipt_with_german_amounts_and_dates(seller, celery_eager):
    order, payment = paid_order(country="DE", name="Jörg Müller", price=11_900, tax_rate_bp=1900)
    receipt = _receipt(payment)
    text = pdf_text(stored_pdf(receipt))

    assert receipt.snapshot["buyer"]["locale"] == "de_DE"
    assert receipt.snapshot["buyer"]["time_zone"] == "Europe/Berlin"
    for part in ("Quittung", "Rechnung, bezahlt", "RECHNUNGSEMPFÄNGER", "Jörg Müller",
                 "Deutschland", "Zwischensumme (netto) 100,00 €", "USt. 19 % auf 100,00 € 19,00 €",
                 "Gesamtbetrag 119,00 €", "Bezahlt 119,00 €", "Visa-Karte mit Endziffern 4242",
                 "Seite 1 von 1", f"Bestellnummer {order.reference}"):  # fmt: skip
        assert part in text, part
    from babel.dates import format_date

    assert format_date(receipt.issued_at.astimezone(_zone("Europe/Berlin")).date(), "long",
                       locale="de_DE") in text  # fmt: skip
    assert "." in format_date(receipt.issued_at.date(), "long", locale="de_DE")  # "23. November"


def test_a_yen_receipt_has_no_decimals(celery_eager):
    _, payment = paid_order(currency="JPY", price=12_000, country="JP", tax_rate_bp=1000)
    receipt = _receipt(payment)
    text = pdf_text(stored_pdf(receipt))

    assert receipt.snapshot["exponent"] == 0
    assert (receipt.net, receipt.tax, receipt.total) == (10_909, 1_091, 12_000)
    assert receipt.snapshot["buyer"]["language"] == "en"  # no Japanese receipts: English
    assert "Total JP¥12,000" in text and "JP¥1,091" in text and "JP¥10,909" in text
    assert "12,000.00" not in text and "¥120.00" not in text


def test_a_deposit_receipt_shows_paid_so_far_and_the_balance(celery_eager):
    order, deposit = paid_order(
        price=30_000, billing_type=Offer.BillingType.DEPOSIT, deposit=9_000, tax_rate_bp=2000
    )
    receipt = _receipt(deposit)
    text = pdf_text(stored_pdf(receipt))

    assert (receipt.net, receipt.tax, receipt.total) == (7_500, 1_500, 9_000)
    assert "Deposit: Practical course" in text
    assert "Order total €300.00" in text
    assert "Paid so far €90.00" in text
    assert "Balance still due €210.00" in text

    balance = pay_order(order, amount=21_000, kind=Payment.AttemptKind.BALANCE)
    final = _receipt(balance)
    text = pdf_text(stored_pdf(final))
    assert "Balance: Practical course" in text
    assert "Paid so far €300.00" in text and "Balance still due €0.00" in text
    # Together the two receipts are the order, to the cent.
    assert receipt.net + final.net == order.subtotal and receipt.tax + final.tax == order.tax


def test_rendering_again_from_the_snapshot_gives_the_same_text(celery_eager):
    _, payment = paid_order(name="Grace Hopper")
    receipt = _receipt(payment)
    assert pdf_text(document_render(receipt.snapshot).pdf) == pdf_text(stored_pdf(receipt))


def test_the_english_and_german_receipts_render_to_png_pages(tmp_path: Path, celery_eager):
    """What a person sees, page by page (looked at by eye when the layout changes; here the
    pages must exist and be A4 at 50 dpi)."""
    for country in ("GB", "DE"):
        _, payment = paid_order(country=country)
        pdf = tmp_path / f"{country}.pdf"
        pdf.write_bytes(stored_pdf(_receipt(payment)))
        subprocess.run(
            ["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / country)], check=True
        )
        (page,) = sorted(tmp_path.glob(f"{country}-*.png"))
        from PIL import Image

        with Image.open(page) as image:
            assert image.size == (414, 585)  # A4 (210 by 297 mm) at 50 dpi, rounded up: one page
            low, high = image.convert("L").getextrema()
            assert high - low > 100  # ink on paper, not a blank page
