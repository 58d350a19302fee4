"""Finance's admin: read-only documents with their PDFs and history, no deletes for anyone, a
resend, the ZIP export with its CSV index and progress; Sales refused everywhere; erasing a lead
keeps its receipts and says so."""

import csv
import io
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.utils import timezone

from checkout.models import Notification
from config.models import AuditLogEntry
from config.staff import STAFF_GROUPS
from leads.models import LeadStatus
from receipts.models import CreditNote, Receipt, ReceiptExport
from receipts.services.export import receipt_export_build
from receipts.services.production import documents_storage
from tests.leads.factories import capture_lead
from tests.receipts.factories import paid_order, refund_succeeded
from tests.receipts.pdfs import stored_pdf

pytestmark = pytest.mark.django_db(transaction=True)


def _staff(group: str, username: str | None = None):
    user = get_user_model().objects.create_user(
        username=username or group.lower(), password="x", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def finance(client):
    user = _staff("Finance")
    client.force_login(user)
    return user


@pytest.fixture
def documents(celery_eager):
    _, payment = paid_order(email="ada@example.com", name='=HYPERLINK("http://evil")')
    refund_succeeded(payment, 2_000)
    return Receipt.objects.get(payment=payment), CreditNote.objects.get()


def test_finance_sees_and_downloads_documents_which_nobody_can_delete(client, finance, documents):
    receipt, note = documents
    listing = client.get("/admin/receipts/receipt/")
    assert listing.status_code == 200 and receipt.number in listing.content.decode()
    page = client.get(f"/admin/receipts/receipt/{receipt.pk}/change/").content.decode()
    assert "Kept until" in page and "cannot be deleted" in page
    assert note.number in page  # its credit notes and history are on its page
    assert (
        "delete"
        not in client.get("/admin/receipts/receipt/")
        .context["action_form"]
        .fields["action"]
        .widget.choices.__str__()
    )

    pdf = client.get(f"/admin/receipts/receipt/{receipt.pk}/pdf/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content) == stored_pdf(receipt)
    assert AuditLogEntry.objects.filter(action="receipts.downloaded", target_id=str(receipt.pk))
    note_pdf = client.get(f"/admin/receipts/creditnote/{note.pk}/pdf/")
    assert b"".join(note_pdf.streaming_content) == stored_pdf(note)

    for url in (
        f"/admin/receipts/receipt/{receipt.pk}/delete/",
        f"/admin/receipts/creditnote/{note.pk}/delete/",
    ):
        assert client.post(url, {"post": "yes"}).status_code == 403
    assert Receipt.objects.filter(pk=receipt.pk).exists()


def test_not_even_a_superuser_deletes_a_receipt_in_the_admin(client, admin_user, documents):
    receipt, _ = documents
    client.force_login(admin_user)
    assert (
        client.post(f"/admin/receipts/receipt/{receipt.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    response = client.post(
        "/admin/receipts/receipt/",
        {"action": "delete_selected", "_selected_action": [receipt.pk], "post": "yes"},
    )
    assert Receipt.objects.filter(pk=receipt.pk).exists()
    assert response.status_code in (200, 302)


def test_sales_can_neither_open_nor_download_receipts(client, documents):
    receipt, note = documents
    export = ReceiptExport.objects.create(
        date_from=timezone.localdate(), date_to=timezone.localdate(),
        status=ReceiptExport.Status.DONE, file_path="receipts/exports/x.zip",
    )  # fmt: skip
    client.force_login(_staff("Sales"))
    for url in (
        "/admin/receipts/receipt/",
        f"/admin/receipts/receipt/{receipt.pk}/change/",
        f"/admin/receipts/receipt/{receipt.pk}/pdf/",
        "/admin/receipts/creditnote/",
        f"/admin/receipts/creditnote/{note.pk}/change/",
        f"/admin/receipts/creditnote/{note.pk}/pdf/",
        "/admin/receipts/receiptexport/",
        "/admin/receipts/receiptexport/add/",
        f"/admin/receipts/receiptexport/{export.pk}/download/",
        "/admin/receipts/buyerbillingdetails/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"%PDF" not in response.content and b"PK\x03\x04" not in response.content
    assert "receipts" not in client.get("/admin/").content.decode().lower().split("work queues")[-1]
    assert not [p for p in STAFF_GROUPS["Sales"] if p.startswith("receipts.")]


def test_finance_resends_a_receipt_by_email(client, finance, documents):
    receipt, _ = documents
    mail.outbox.clear()
    client.post("/admin/receipts/receipt/", {"action": "resend", "_selected_action": [receipt.pk]})
    (message,) = mail.outbox
    assert message.subject.startswith("Your receipt for")
    assert [a[0] for a in message.attachments] == [f"{receipt.number}.pdf"]
    resent = Notification.objects.get(kind=Notification.Kind.RECEIPT)
    assert resent.status == Notification.Status.SENT and resent.context["documents"] == [
        f"receipt:{receipt.pk}"
    ]
    assert receipt.events.filter(cause="resent", actor=finance).exists()


def test_finance_sees_every_email_in_the_message_log_and_can_send_one_again(
    client, finance, documents
):
    receipt, _ = documents
    confirmation = receipt.delivered_by
    log = client.get("/admin/checkout/notification/").content.decode()
    assert f"{receipt.number}.pdf" in log and "Sent" in log
    mail.outbox.clear()
    client.post(
        "/admin/checkout/notification/",
        {"action": "send_again", "_selected_action": [confirmation.pk]},
    )
    (message,) = mail.outbox
    assert [a[0] for a in message.attachments] == [f"{receipt.number}.pdf"]


def test_the_zip_export_is_built_in_the_background_with_a_csv_index(client, finance, documents):
    receipt, note = documents
    today = timezone.localdate()
    response = client.post(
        "/admin/receipts/receiptexport/add/",
        {"date_from": (today - timedelta(days=1)).isoformat(), "date_to": today.isoformat()},
        follow=True,
    )
    assert response.status_code == 200
    export = ReceiptExport.objects.get()  # built by the task (eager here)
    assert export.status == ReceiptExport.Status.DONE
    assert (export.documents_total, export.documents_done) == (2, 2)
    listing = client.get("/admin/receipts/receiptexport/").content.decode()
    assert "2 documents" in listing and export.filename in listing

    download = client.get(f"/admin/receipts/receiptexport/{export.pk}/download/")
    assert download["Content-Disposition"] == f'attachment; filename="{export.filename}"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert archive.read(f"receipts/{receipt.number}.pdf") == stored_pdf(receipt)
    assert archive.read(f"credit-notes/{note.number}.pdf") == stored_pdf(note)
    rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode("utf-8-sig"))))
    assert [r["number"] for r in rows] == [receipt.number, note.number]
    first = rows[0]
    assert (first["type"], first["net"], first["tax"], first["total"], first["currency"]) == (
        "receipt", "100.00", "20.00", "120.00", "EUR",
    )  # fmt: skip
    assert first["sha256"] == receipt.pdf_sha256
    assert first["buyer"].startswith("'=HYPERLINK")  # a formula is text in a spreadsheet
    assert rows[1]["refers_to"] == receipt.number and rows[1]["total"] == "20.00"
    assert set(rows[0]) >= {"number", "date", "buyer", "net", "tax", "total", "currency", "sha256"}


def test_an_export_shows_its_progress_while_it_is_built(client, finance, documents):
    export = ReceiptExport.objects.create(
        date_from=timezone.localdate(), date_to=timezone.localdate(),
        status=ReceiptExport.Status.RUNNING, documents_total=400, documents_done=150,
        started_at=timezone.now(),
    )  # fmt: skip
    listing = client.get("/admin/receipts/receiptexport/").content.decode()
    assert '<progress value="150" max="400"></progress> 150 of 400' in listing
    # A build already running elsewhere is left alone; one whose worker vanished is rebuilt.
    assert receipt_export_build(export_id=export.pk).status == ReceiptExport.Status.RUNNING
    ReceiptExport.objects.filter(pk=export.pk).update(
        started_at=timezone.now() - timedelta(hours=1)
    )
    rebuilt = receipt_export_build(export_id=export.pk)
    assert rebuilt.status == ReceiptExport.Status.DONE and rebuilt.documents_done == 2
    assert documents_storage().exists(rebuilt.file_path)


def test_erasing_a_lead_keeps_its_receipts_and_the_admin_says_so(client, celery_eager):
    from checkout.models import Order

    lead = capture_lead(name="Forget Me", email="forget@example.com")
    order, payment = paid_order(email="forget@example.com", name="Forget Me")
    Order.objects.filter(pk=order.pk).update(lead=lead)
    receipt = Receipt.objects.get(payment=payment)
    before = (receipt.snapshot, receipt.pdf_sha256)

    admin = _staff("Admin", "privacy-admin")
    client.force_login(admin)
    page = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    assert "1 receipt(s) and 0 credit note(s). Erasure keeps them" in page
    response = client.post(
        "/admin/leads/lead/",
        {"action": "erase_personal_data", "_selected_action": [lead.pk]},
        follow=True,
    )
    assert "linked financial records were kept" in response.content.decode()
    lead.refresh_from_db()
    receipt.refresh_from_db()
    assert lead.status == LeadStatus.ERASED
    assert (receipt.snapshot, receipt.pdf_sha256) == before
    assert receipt.snapshot["buyer"]["name"] == "Forget Me"
    assert (
        "Erasure keeps them" in client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    )
