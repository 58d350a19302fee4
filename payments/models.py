from django.conf import settings
from django.db import models

from config.models import StatusEvent
from config.transitions import StatusMachine


class WebhookEvent(models.Model):
    """The inbox: every verified Stripe event, stored before it is acknowledged.

    Unique on Stripe's event id, so a redelivery is a no-op insert. Rows are processed by a task
    and re-driven by a sweeper, so nothing Stripe sent is lost even if the broker is down.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"
        DEAD = "dead", "Dead"

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    api_version = models.CharField(max_length=40, blank=True)
    livemode = models.BooleanField(default=False)
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    # Exactly the bytes Stripe signed, NUL bytes and all: the evidence, and what a replay reads.
    body = models.BinaryField(default=b"", editable=False)
    # The parsed event, for the handlers and the admin. Postgres' jsonb cannot hold U+0000, so a
    # NUL in a string reads as U+FFFD here; `body` keeps the original.
    payload = models.JSONField(default=dict, blank=True)
    # Stripe shapes an event by the endpoint's API version; one that differs from the version
    # this code is pinned to may carry fields the handlers do not expect. Shown to staff.
    api_version_mismatch = models.BooleanField(default=False, db_index=True)
    signature_verified = models.BooleanField(default=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The Stripe object the event is about (pi_…, ch_…, dp_…, seti_…), for search and support.
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Set when the event names an object we do not know: kept (never dropped) for finance.
    unmatched = models.BooleanField(default=False, db_index=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id} ({self.status})"


class DeadLetterEvent(WebhookEvent):
    """The admin's dead-letter list: inbox events that used up their attempts."""

    class Meta:
        proxy = True
        verbose_name = "dead-letter webhook event"
        verbose_name_plural = "dead-letter webhook events"


_WS = WebhookEvent.Status
# A replay (staff, from the admin) gives a dead, failed or unmatched event a fresh start; a
# processed event is final. A lease that ran out lets another worker take a `processing` one.
WEBHOOK_EVENT_TRANSITIONS: dict[str, set[str]] = {
    _WS.RECEIVED: {_WS.PROCESSING, _WS.DEAD},
    _WS.PROCESSING: {_WS.PROCESSED, _WS.IGNORED, _WS.FAILED, _WS.DEAD},
    _WS.FAILED: {_WS.PROCESSING, _WS.DEAD, _WS.RECEIVED},
    _WS.IGNORED: {_WS.RECEIVED},
    _WS.DEAD: {_WS.RECEIVED},
    _WS.PROCESSED: set(),
}


class WebhookEventHistory(StatusEvent):
    """The processing history of an inbox event, written by the worker (the acknowledgement
    stays one INSERT of the event itself)."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="history")

    class Meta(StatusEvent.Meta):
        verbose_name = "webhook event history"
        verbose_name_plural = "webhook event history"


WEBHOOK_EVENT_MACHINE = StatusMachine(
    model=WebhookEvent,
    transitions=WEBHOOK_EVENT_TRANSITIONS,
    history=WebhookEventHistory,
    subject="event",
)


class Installation(models.Model):
    """This database's identity towards Stripe: one row, made once (by migration).

    Its random id prefixes every idempotency key we send, so two databases on one Stripe account
    (a developer's, CI, staging) never send the same key for different requests, while a retry
    of the same action from this database still sends the same key. A database copied from
    another must get a new id (`manage.py stripe_installation_reset`) before it talks to Stripe.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    installation_id = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="installation_one_row")
        ]

    def __str__(self) -> str:
        return self.installation_id


class Customer(models.Model):
    """Our buyer as Stripe knows them, with the card on file.

    A buyer who proved their email (the portal's magic link) has one `email_verified` Customer,
    whose card on file the portal shows and changes. A checkout by email alone gets a guest
    Customer of its own, so a stranger who types someone's email never adds or replaces a card
    of theirs: what a subscription or an order charges is the card saved for it.
    """

    email = models.EmailField()
    email_verified = models.BooleanField(default=False)
    name = models.CharField(max_length=200, blank=True)
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(email_verified=True),
                name="customer_one_verified_per_email",
            ),
        ]
        indexes = [models.Index(fields=["email"], name="customer_email_idx")]

    def __str__(self) -> str:
        return self.email if self.email_verified else f"{self.email} (guest)"


class Payment(models.Model):
    """One PaymentIntent. Its status changes only through `payment_transition`."""

    class Status(models.TextChoices):
        REQUIRES_PAYMENT_METHOD = "requires_payment_method", "Waiting for a card"
        REQUIRES_ACTION = "requires_action", "Waiting for the bank's check"
        PROCESSING = "processing", "Processing"
        AUTHORIZED = "authorized", "Authorised (on hold)"
        SUCCEEDED = "succeeded", "Paid"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"
        DISPUTED = "disputed", "Disputed"
        # A call to Stripe timed out: the intent may or may not exist. Reconciled by looking it
        # up, never by creating a second one.
        UNKNOWN = "unknown", "Being checked with the bank"

    class AttemptKind(models.TextChoices):
        CHECKOUT = "checkout", "Checkout"
        RETRY = "retry", "Retry"
        RENEWAL = "renewal", "Renewal"
        MANUAL = "manual", "Manual"
        BALANCE = "balance", "Balance"

    class CaptureMethod(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic"
        MANUAL = "manual", "Manual (hold)"

    order = models.ForeignKey(
        "checkout.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    # Deterministic, from our own rows: one Payment (and so one PaymentIntent) per attempt.
    idempotency_key = models.CharField(max_length=255, unique=True)
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_method_id = models.CharField(max_length=255, blank=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    amount_received = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    capture_method = models.CharField(
        max_length=10, choices=CaptureMethod.choices, default=CaptureMethod.AUTOMATIC
    )
    status = models.CharField(
        max_length=30, choices=Status.choices, default=Status.REQUIRES_PAYMENT_METHOD, db_index=True
    )
    attempt_kind = models.CharField(
        max_length=20, choices=AttemptKind.choices, default=AttemptKind.CHECKOUT
    )
    failure_code = models.CharField(max_length=100, blank=True)
    decline_code = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    risk_level = models.CharField(max_length=30, blank=True)
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    # `created` of the newest Stripe event applied, so an older event is recognised as stale.
    last_event_created = models.BigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    # The charge behind the intent, so charge.* and dispute events find their payment.
    stripe_charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    # When reconciliation last asked Stripe about this payment (so it is not asked every run).
    last_reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="payment_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.stripe_payment_intent_id or f"payment #{self.pk}"

    @property
    def is_paid(self) -> bool:
        return self.status in PAID_STATUSES


PAID_STATUSES = {
    Payment.Status.SUCCEEDED,
    Payment.Status.PARTIALLY_REFUNDED,
    Payment.Status.REFUNDED,
    Payment.Status.DISPUTED,
}

_S = Payment.Status
_OPEN = {_S.REQUIRES_PAYMENT_METHOD, _S.REQUIRES_ACTION, _S.PROCESSING, _S.UNKNOWN}
# The allowed moves. `succeeded` never goes back to an earlier state. `failed` may still become
# `succeeded` (a late or out-of-order success is the truth); `canceled` is final.
PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    _S.REQUIRES_PAYMENT_METHOD: {
        _S.REQUIRES_ACTION, _S.PROCESSING, _S.AUTHORIZED, _S.SUCCEEDED, _S.FAILED, _S.CANCELED,
        _S.UNKNOWN,
    },
    _S.UNKNOWN: {
        _S.REQUIRES_PAYMENT_METHOD, _S.REQUIRES_ACTION, _S.PROCESSING, _S.AUTHORIZED,
        _S.SUCCEEDED, _S.FAILED, _S.CANCELED,
    },
    _S.REQUIRES_ACTION: {
        _S.REQUIRES_PAYMENT_METHOD, _S.PROCESSING, _S.AUTHORIZED, _S.SUCCEEDED, _S.FAILED,
        _S.CANCELED, _S.UNKNOWN,
    },
    _S.PROCESSING: {_S.AUTHORIZED, _S.SUCCEEDED, _S.FAILED, _S.CANCELED, _S.UNKNOWN},
    _S.AUTHORIZED: {_S.SUCCEEDED, _S.CANCELED, _S.FAILED, _S.UNKNOWN},
    # A failed intent is never retried (each retry is a new intent): only a late success moves it.
    _S.FAILED: {_S.AUTHORIZED, _S.SUCCEEDED},
    _S.CANCELED: set(),
    _S.SUCCEEDED: {_S.PARTIALLY_REFUNDED, _S.REFUNDED, _S.DISPUTED},
    _S.PARTIALLY_REFUNDED: {_S.PARTIALLY_REFUNDED, _S.REFUNDED, _S.DISPUTED},
    _S.DISPUTED: {_S.SUCCEEDED, _S.PARTIALLY_REFUNDED, _S.REFUNDED},
    _S.REFUNDED: {_S.DISPUTED},
}  # fmt: skip
OPEN_STATUSES = _OPEN


class PaymentEvent(StatusEvent):
    """Every attempted change of a Payment's status, applied or refused, and its cause."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=30)
    to_status = models.CharField(max_length=30)
    stripe_event_id = models.CharField(max_length=255, blank=True, db_index=True)


PAYMENT_MACHINE = StatusMachine(
    model=Payment, transitions=PAYMENT_TRANSITIONS, history=PaymentEvent, subject="payment"
)


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    idempotency_key = models.CharField(max_length=255, unique=True)
    stripe_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # Kept on our side: localstripe refuses Stripe's `reason` parameter.
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.stripe_refund_id or f"refund #{self.pk}"


_RS = Refund.Status
# Stripe can fail a refund after it succeeded (the card was closed); failed and canceled are final.
REFUND_TRANSITIONS: dict[str, set[str]] = {
    _RS.PENDING: {_RS.SUCCEEDED, _RS.FAILED, _RS.CANCELED},
    _RS.SUCCEEDED: {_RS.FAILED},
    _RS.FAILED: set(),
    _RS.CANCELED: set(),
}


class RefundEvent(StatusEvent):
    """History of a refund's status, from our request or Stripe's refund.* events."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="events")
    stripe_event_id = models.CharField(max_length=255, blank=True)


REFUND_MACHINE = StatusMachine(
    model=Refund, transitions=REFUND_TRANSITIONS, history=RefundEvent, subject="refund"
)


class Dispute(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        CLOSED = "closed", "Closed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=100, blank=True)
    stripe_status = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # Stripe takes the disputed amount (and a fee) from the balance, and gives it back if the
    # dispute is won: when each happened, for finance's books.
    funds_withdrawn_at = models.DateTimeField(null=True, blank=True)
    funds_reinstated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.stripe_dispute_id


_DS = Dispute.Status
# A dispute ends once (won, lost, or closed after a warning); a closed dispute never reopens.
DISPUTE_TRANSITIONS: dict[str, set[str]] = {
    _DS.OPEN: {_DS.WON, _DS.LOST, _DS.CLOSED},
    _DS.WON: set(),
    _DS.LOST: set(),
    _DS.CLOSED: set(),
}


class DisputeEvent(StatusEvent):
    """History of a dispute's status, from Stripe's charge.dispute.* events."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    stripe_event_id = models.CharField(max_length=255, blank=True)


DISPUTE_MACHINE = StatusMachine(
    model=Dispute, transitions=DISPUTE_TRANSITIONS, history=DisputeEvent, subject="dispute"
)


class Discrepancy(models.Model):
    """Money that does not add up for an order; finance owns it until it is resolved."""

    class Kind(models.TextChoices):
        PARTIAL_PAYMENT = "partial_payment", "Partial payment"
        OVERPAYMENT = "overpayment", "Overpayment"
        CURRENCY_MISMATCH = "currency_mismatch", "Currency mismatch"
        AMOUNT_MISMATCH = "amount_mismatch", "Amount mismatch"
        DUPLICATE_PAYMENT = "duplicate_payment", "Two successful payments for one order"
        PAYMENT_ON_CANCELED_ORDER = "payment_on_canceled_order", "Payment on a canceled order"
        # Found by reconciliation: Stripe's refunded amount or dispute differs from ours (a
        # webhook was lost, or a refund failed at Stripe while we count it).
        STRIPE_MISMATCH = "stripe_mismatch", "Refunds or disputes differ from Stripe's"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    order = models.ForeignKey(
        "checkout.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="discrepancies",
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies"
    )
    amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    detected_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "discrepancies"
        constraints = [
            # Detection runs again on every redelivery; one discrepancy per kind and payment.
            models.UniqueConstraint(
                fields=["kind", "payment"], name="discrepancy_once_per_payment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.order_id}"
