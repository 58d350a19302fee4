"""Receipts and credit notes: numbered, immutable documents that are also e-invoices.

Each document has a gapless number per series and year (`R-2026-000001`, `CN-2026-000001`)
taken from a `DocumentCounter` row locked in the issuing transaction, and a snapshot of
everything it shows, frozen when it is issued. A Postgres trigger (migration 0002) refuses any
change to an issued number, snapshot or stored PDF, and any delete; the only moves are the ones
in DOCUMENT_TRANSITIONS, made by `receipts.services.transitions.document_transition`.

The PDF (PDF/A-3b with the Factur-X XML inside) is stored through Django's storage API under a
random name; `pdf_sha256` is its digest. Delivery is tracked by checkout's `Notification` (the
one message log); `delivered_by` points at the message that carried the document.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from config.models import StatusEvent
from config.transitions import StatusMachine


class DocumentCounter(models.Model):
    """The last number issued in a series and year. Locked (SELECT … FOR UPDATE) by the
    transaction that issues the next one, so a rolled-back issue gives its number back and two
    concurrent issues never share one. Never a Postgres sequence: sequences skip on rollback."""

    series = models.CharField(max_length=10)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "year"], name="document_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.series}-{self.year}: {self.last_number}"


class DocumentStatus(models.TextChoices):
    ISSUED = "issued", "Issued (PDF being made)"
    STORED = "stored", "Ready"


# issued → stored is the only move: a stored PDF is final.
DOCUMENT_TRANSITIONS: dict[str, set[str]] = {
    DocumentStatus.ISSUED: {DocumentStatus.STORED},
    DocumentStatus.STORED: set(),
}


class Document(models.Model):
    """What receipts and credit notes share: number, snapshot, amounts, PDF and its state."""

    Status = DocumentStatus

    series = models.CharField(max_length=10)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    number = models.CharField(max_length=32, unique=True)
    issued_at = models.DateTimeField(db_index=True)
    # Everything the document shows (see receipts.services.snapshot); never changes once issued.
    snapshot = models.JSONField()
    # Copied from the snapshot for listings, exports and the sum check (integer minor units).
    currency = models.CharField(max_length=3)
    net = models.BigIntegerField()
    tax = models.BigIntegerField()
    total = models.BigIntegerField()
    buyer_email = models.EmailField(db_index=True)
    buyer_name = models.CharField(max_length=200)

    status = models.CharField(
        max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.ISSUED, db_index=True
    )
    pdf_path = models.CharField(max_length=255, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_size = models.PositiveIntegerField(default=0)
    stored_at = models.DateTimeField(null=True, blank=True)
    render_attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The buyer's email that carried this document (checkout's message log), once it was sent.
    delivered_by = models.ForeignKey(
        "checkout.Notification", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["-issued_at", "-sequence"]

    def __str__(self) -> str:
        return self.number

    @property
    def filename(self) -> str:
        return f"{self.number}.pdf"


class Receipt(Document):
    """The receipt for one successful payment (checkout, deposit, balance or renewal)."""

    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, related_name="receipt"
    )
    order = models.ForeignKey(
        "checkout.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )

    class Meta(Document.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["series", "year", "sequence"], name="receipt_number_unique"
            ),
            models.CheckConstraint(condition=Q(total__gt=0), name="receipt_total_positive"),
        ]
        indexes = [models.Index(fields=["status", "issued_at"], name="receipt_status_issued")]


class CreditNote(Document):
    """Money given back on a receipt: a refund, or a lost dispute when finance chooses to.

    The credit notes of a receipt never add up to more than it (checked under the receipt's
    row lock when one is issued)."""

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="credit_notes")
    refund = models.OneToOneField(
        "payments.Refund",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_note",
    )
    dispute = models.OneToOneField(
        "payments.Dispute",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_note",
    )
    reason = models.CharField(max_length=500)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(Document.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["series", "year", "sequence"], name="credit_note_number_unique"
            ),
            models.CheckConstraint(condition=Q(total__gt=0), name="credit_note_total_positive"),
            models.CheckConstraint(
                condition=Q(refund__isnull=False, dispute__isnull=True)
                | Q(refund__isnull=True, dispute__isnull=False),
                name="credit_note_one_cause",
            ),
        ]
        indexes = [models.Index(fields=["status", "issued_at"], name="credit_note_status_issued")]


class ReceiptEvent(StatusEvent):
    """The history of a receipt and its credit notes: issued, stored, render failures, a lost
    dispute, resends. Append-only (trigger)."""

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="events")
    credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )

    def __str__(self) -> str:
        document = f"credit note {self.credit_note_id}" if self.credit_note_id else "receipt"
        return f"{document}: {self.cause}"


RECEIPT_MACHINE = StatusMachine(
    model=Receipt, transitions=DOCUMENT_TRANSITIONS, history=ReceiptEvent, subject="receipt"
)
# A credit note's history rows also name its receipt (receipt_id, given by the service).
CREDIT_NOTE_MACHINE = StatusMachine(
    model=CreditNote,
    transitions=DOCUMENT_TRANSITIONS,
    history=ReceiptEvent,
    subject="credit_note",
)


class BuyerBillingDetails(models.Model):
    """What a business buyer asked us to print: company, VAT id, language and time zone.

    Finance records it (checkout collects only name, email and billing country); receipts
    issued afterwards carry it. An issued receipt never changes."""

    email = models.EmailField(unique=True, help_text="The buyer's email, as on their orders.")
    company = models.CharField(max_length=200, blank=True)
    vat_id = models.CharField("VAT id", max_length=32, blank=True)
    language = models.CharField(
        max_length=2, blank=True, help_text="en or de; empty: from the billing country."
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="e.g. Europe/Berlin; empty: from the billing country."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "buyer billing details"
        verbose_name_plural = "buyer billing details"

    def __str__(self) -> str:
        return self.email


class ReceiptExport(models.Model):
    """A ZIP of every receipt and credit note issued in a date range, with a CSV index, built
    by a background job; the admin shows its progress and offers the file when it is done."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Being built"
        DONE = "done", "Ready to download"
        FAILED = "failed", "Failed"

    date_from = models.DateField()
    date_to = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    documents_total = models.PositiveIntegerField(default=0)
    documents_done = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_size = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_from__lte=models.F("date_to")), name="receipt_export_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Receipts {self.date_from} to {self.date_to}"

    @property
    def filename(self) -> str:
        return f"receipts-{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}.zip"


EXPORT_TRANSITIONS: dict[str, set[str]] = {
    ReceiptExport.Status.QUEUED: {ReceiptExport.Status.RUNNING, ReceiptExport.Status.FAILED},
    # A worker lost mid-build leaves it running; the sweeper puts it back in the queue.
    ReceiptExport.Status.RUNNING: {
        ReceiptExport.Status.DONE,
        ReceiptExport.Status.FAILED,
        ReceiptExport.Status.QUEUED,
    },
    ReceiptExport.Status.DONE: set(),
    ReceiptExport.Status.FAILED: set(),
}
