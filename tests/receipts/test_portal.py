"""Downloads from the customer portal: the buyer's own receipts and credit notes, the access
checked on every download, and nobody else's document through any link."""

import pytest
from django.core import signing
from django.urls import reverse

from checkout.portal.links import portal_token_make
from receipts.models import CreditNote, Receipt
from tests.receipts.factories import paid_order, refund_succeeded
from tests.receipts.pdfs import stored_pdf

pytestmark = pytest.mark.django_db(transaction=True)


def _download(number: str, token: str) -> str:
    return reverse("receipts:portal-download", kwargs={"token": token, "number": number})


def _portal(token: str) -> str:
    return reverse("checkout_portal:portal", kwargs={"token": token})


def test_the_portal_lists_the_buyers_receipts_and_credit_notes_with_a_download_each(
    client, celery_eager
):
    _, payment = paid_order(email="ada@example.com")
    refund_succeeded(payment, 2_000)
    _, other = paid_order(email="grace@example.com")
    receipt, note = Receipt.objects.get(payment=payment), CreditNote.objects.get()
    token = portal_token_make(email="Ada@Example.com")

    html = client.get(_portal(token)).content.decode()
    assert f"Receipt {receipt.number}" in html and f"Credit note {note.number}" in html
    assert Receipt.objects.get(payment=other).number not in html
    assert f'href="{_download(receipt.number, token)}"' in html

    for document in (receipt, note):
        response = client.get(_download(document.number, token))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == f'attachment; filename="{document.number}.pdf"'
        assert response["Cache-Control"] == "no-store, private"
        assert b"".join(response.streaming_content) == stored_pdf(document)


def test_a_link_never_opens_another_buyers_document(client, celery_eager):
    _, mine = paid_order(email="ada@example.com")
    _, theirs = paid_order(email="mallory@example.com")
    refund_succeeded(theirs, 1_000)
    my_token = portal_token_make(email="ada@example.com")
    their_receipt = Receipt.objects.get(payment=theirs)
    their_note = CreditNote.objects.get()
    my_receipt = Receipt.objects.get(payment=mine)

    # My valid link with their numbers (an IDOR attempt), and numbers that do not exist: the
    # same 404, saying nothing about whether the document exists.
    for number in (their_receipt.number, their_note.number, "R-2026-999999", "../etc/passwd"):
        response = client.get(f"/account/{my_token}/documents/{number}.pdf")
        assert response.status_code == 404, number
        assert b"%PDF" not in response.content
    # A tampered token, one signed for them by someone else, and an expired one.
    forged = signing.TimestampSigner(salt="other").sign_object({"e": "mallory@example.com"})
    assert client.get(_download(their_receipt.number, forged)).status_code == 404
    assert client.get(_download(my_receipt.number, my_token[:-2] + "xx")).status_code == 404


def test_an_expired_link_no_longer_downloads(client, settings, celery_eager):
    _, payment = paid_order(email="ada@example.com")
    receipt = Receipt.objects.get(payment=payment)
    token = portal_token_make(email="ada@example.com")
    assert client.get(_download(receipt.number, token)).status_code == 200
    settings.PORTAL_LINK_MAX_AGE_SECONDS = -1  # access is checked on every download
    assert client.get(_download(receipt.number, token)).status_code == 410


def test_a_receipt_still_being_made_is_not_listed_or_served(client):
    from receipts.services.issue import receipt_issue

    _, payment = paid_order(email="ada@example.com")  # no worker here: nothing renders it
    receipt = receipt_issue(payment_id=payment.pk)
    token = portal_token_make(email="ada@example.com")
    assert receipt.status == Receipt.Status.ISSUED
    assert receipt.number not in client.get(_portal(token)).content.decode()
    assert client.get(_download(receipt.number, token)).status_code == 404


@pytest.mark.e2e
def test_a_buyer_downloads_a_receipt_from_the_portal_in_chromium(
    live_server, phone_page, localstripe, celery_eager
):
    _, payment = paid_order(email="ada@example.com", name="Ada Lovelace")
    receipt = Receipt.objects.get(payment=payment)
    token = portal_token_make(email="ada@example.com")

    phone_page.goto(f"{live_server.url}{_portal(token)}")
    link = phone_page.get_by_role("link", name=f"Receipt {receipt.number}")
    assert link.is_visible()
    with phone_page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"{receipt.number}.pdf"
    with open(download.path(), "rb") as f:
        assert f.read() == stored_pdf(receipt)
    assert phone_page.csp_violations == []
