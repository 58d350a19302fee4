"""Offers, orders and the access an order grants.

These are the contracts other apps rely on (DESIGN.md §3); the checkout flow itself lives in
checkout/services/.
"""

import uuid

from django.db import models
from django.db.models import Q

from config.models import StatusEvent
from config.transitions import StatusMachine


class Offer(models.Model):
    class BillingType(models.TextChoices):
        ONE_TIME = "one_time", "One-time payment"
        DEPOSIT = "deposit", "Deposit now, balance later"
        HOLD = "hold", "Refundable hold (authorise now, capture later)"
        RECURRING = "recurring", "Recurring"

    class TaxMode(models.TextChoices):
        INCLUSIVE = "inclusive", "Prices include tax"
        EXCLUSIVE = "exclusive", "Tax is added at checkout"

    class Interval(models.TextChoices):
        MONTH = "month", "Monthly"
        YEAR = "year", "Yearly"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # Integer minor units of `currency`; the currency decides the decimals (JPY has none).
    price_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    tax_mode = models.CharField(max_length=10, choices=TaxMode.choices, default=TaxMode.INCLUSIVE)
    billing_type = models.CharField(
        max_length=20, choices=BillingType.choices, default=BillingType.ONE_TIME
    )
    deposit_amount = models.BigIntegerField(null=True, blank=True)
    balance_due_days = models.PositiveIntegerField(null=True, blank=True)
    interval = models.CharField(max_length=10, choices=Interval.choices, blank=True)
    renewal_terms = models.TextField(blank=True)
    cancellation_terms = models.TextField(blank=True)
    accepts_card = models.BooleanField(default=True)
    accepts_bank_transfer = models.BooleanField(default=False)
    access_name = models.CharField(max_length=200, blank=True)
    access_url = models.URLField(blank=True)
    access_instructions = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(price_amount__gt=0), name="offer_price_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PAID = "paid", "Paid"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        FAILED = "failed", "Payment failed"
        CANCELED = "canceled", "Canceled"
        REFUNDED = "refunded", "Refunded"

    # The token in the buyer's checkout session; one order per token (double clicks, reloads).
    checkout_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=32, unique=True)
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="orders")
    email = models.EmailField()
    name = models.CharField(max_length=200)
    billing_country = models.CharField(max_length=2)
    # What the buyer was shown and agreed to, frozen at order time.
    lines = models.JSONField(default=list)
    currency = models.CharField(max_length=3)
    subtotal = models.BigIntegerField()
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    amount_due_now = models.BigIntegerField()
    amount_paid = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    # Held on the card (a refundable hold, `authorized`): secured but not paid, so not counted
    # in `amount_paid`; it does reduce `balance` (see docs/checkout-after-payment.md).
    amount_authorized = models.BigIntegerField(default=0)
    balance = models.BigIntegerField(default=0)
    balance_due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    needs_review = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # The number of the current checkout attempt: a new attempt (a new Payment, so a new
    # PaymentIntent) starts only after the previous one failed, with another card.
    checkout_attempt = models.PositiveIntegerField(default=0)
    terms_accepted_at = models.DateTimeField(null=True, blank=True)
    marketing_opt_in = models.BooleanField(default=False)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    # Whose cards pay this order: a guest of its own for a checkout by email alone, or the
    # buyer's verified Customer when they proved the email first (the portal's magic link).
    customer = models.ForeignKey(
        "payments.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="order_total_positive"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="order_paid_not_negative"),
        ]

    def __str__(self) -> str:
        return self.reference


ORDER_TRANSITIONS: dict[str, set[str]] = {
    Order.Status.OPEN: {Order.Status.AWAITING_PAYMENT, Order.Status.CANCELED, Order.Status.PAID},
    Order.Status.AWAITING_PAYMENT: {
        Order.Status.PAID,
        Order.Status.PARTIALLY_PAID,
        Order.Status.FAILED,
        Order.Status.CANCELED,
    },
    Order.Status.FAILED: {
        Order.Status.AWAITING_PAYMENT,
        Order.Status.PAID,
        Order.Status.PARTIALLY_PAID,
        Order.Status.CANCELED,
    },
    Order.Status.PARTIALLY_PAID: {Order.Status.PAID, Order.Status.REFUNDED, Order.Status.CANCELED},
    Order.Status.PAID: {Order.Status.REFUNDED, Order.Status.PARTIALLY_PAID},
    Order.Status.CANCELED: set(),
    Order.Status.REFUNDED: set(),
}


class Entitlement(models.Model):
    """The access an order grants. Granted once, at the moment of payment."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        REVOKED = "revoked", "Revoked"

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="entitlement")
    access_name = models.CharField(max_length=200)
    access_url = models.URLField(blank=True)
    access_code = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    granted_at = models.DateTimeField()
    suspended_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    granted_by_payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.access_name} for {self.order}"


class EntitlementEvent(StatusEvent):
    """History of an entitlement: granted, suspended, restored, revoked, and what caused it."""

    entitlement = models.ForeignKey(Entitlement, on_delete=models.CASCADE, related_name="events")
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.entitlement_id}: {self.from_status or '-'} → {self.to_status} ({self.cause})"


_ES = Entitlement.Status
# revoked is final: access that was taken back for a refund or a lost dispute is never given
# back automatically (staff can grant a new order).
ENTITLEMENT_TRANSITIONS: dict[str, set[str]] = {
    _ES.ACTIVE: {_ES.SUSPENDED, _ES.REVOKED},
    _ES.SUSPENDED: {_ES.ACTIVE, _ES.REVOKED},
    _ES.REVOKED: set(),
}
ENTITLEMENT_MACHINE = StatusMachine(
    model=Entitlement,
    transitions=ENTITLEMENT_TRANSITIONS,
    history=EntitlementEvent,
    subject="entitlement",
)


class Notification(models.Model):
    """One customer email, sent at most once: the unique `key` is the sent-marker. The one
    message log: every app's messages to the buyer are rows here (DESIGN.md §3).

    The row is written in the same transaction as the change it reports and the email is sent
    by a task after commit, so a redelivered webhook or a second confirm never sends twice.

    Delivery is tracked (checkout.notifications): queued (`pending`) until it is sent,
    with retries and backoff; `failed` after the last attempt; `bounced` when the mail provider
    says so (matched by `message_id`). Every move is a `NotificationEvent`. Documents a higher
    app attaches (a receipt, a credit note) are listed in `attachments` once sent.
    """

    class Kind(models.TextChoices):
        PAYMENT_CONFIRMED = "payment_confirmed", "Payment confirmed"
        PAYMENT_ON_HOLD = "payment_on_hold", "Payment on hold"
        PAYMENT_UNDER_REVIEW = "payment_under_review", "Payment under review"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        BALANCE_DUE = "balance_due", "Partial payment, balance due"
        OVERPAYMENT = "overpayment", "Overpayment to be refunded"
        DUPLICATE_PAYMENT = "duplicate_payment", "Duplicate payment to be refunded"
        PAYMENT_ON_CANCELED_ORDER = "payment_on_canceled_order", "Payment on a canceled order"
        REFUND_ISSUED = "refund_issued", "Refund issued"
        HOLD_LAPSED = "hold_lapsed", "Card reservation expired"
        # A document sent on its own: it missed the email about its payment, or staff resent it.
        RECEIPT = "receipt", "Receipt"
        CREDIT_NOTE = "credit_note", "Credit note"
        # Written by dunning (pre-rendered from its editable templates).
        PAYMENT_REMINDER = "payment_reminder", "Payment reminder"
        CARD_EXPIRING = "card_expiring", "Card expiring soon"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        BOUNCED = "bounced", "Bounced"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notifications")
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_email = models.EmailField()
    # Facts frozen when the notification was decided (amounts in minor units), so a later
    # change to the order does not change what this email says.
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    subject = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The files that went with the email: [{"document", "filename", "content_type", "sha256",
    # "size"}]; `document` is the attaching app's own name for it (e.g. "receipt:12").
    attachments = models.JSONField(default=list, blank=True)
    # The Message-ID we sent (or the mail provider's id for it): what a bounce report names.
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    # Channels, languages and templates (dunning's messages). A row with `body_text`
    # was rendered when it was decided (from an editable template named in `template`) and is
    # sent as stored; every other row is rendered from checkout's own email templates. An SMS
    # goes to `to_phone` through config/sms.py, and only with SMS consent in the ledger.
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    language = models.CharField(max_length=8, default="en")
    template = models.CharField(max_length=100, blank=True)
    to_phone = models.CharField(max_length=32, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        to = self.to_phone if self.channel == self.Channel.SMS else self.to_email
        return f"{self.kind} to {to} ({self.status})"


_NS = Notification.Status
# A queued email is sent or, after its last attempt, failed; only a sent one can bounce. A
# failed or bounced email is final: staff resend it as a new notification.
NOTIFICATION_TRANSITIONS: dict[str, set[str]] = {
    _NS.PENDING: {_NS.SENT, _NS.FAILED},
    _NS.SENT: {_NS.BOUNCED},
    _NS.FAILED: set(),
    _NS.BOUNCED: set(),
}


class NotificationEvent(StatusEvent):
    """The delivery history of a notification: every attempt, failure, bounce and resend."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="events")

    def __str__(self) -> str:
        return f"{self.notification_id}: {self.from_status} → {self.to_status} ({self.cause})"


NOTIFICATION_MACHINE = StatusMachine(
    model=Notification,
    transitions=NOTIFICATION_TRANSITIONS,
    history=NotificationEvent,
    subject="notification",
)


class OrderEvent(StatusEvent):
    """History of an order's status changes and what caused them."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} → {self.to_status} ({self.cause})"


ORDER_MACHINE = StatusMachine(
    model=Order, transitions=ORDER_TRANSITIONS, history=OrderEvent, subject="order"
)


class TaxRate(models.Model):
    """A tax rate for a billing country, in basis points (2000 = 20%).

    A rate set on an offer wins over the global one (offer empty) for the same country; a country
    with no rate pays no tax.
    """

    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.CASCADE, related_name="tax_rates"
    )
    country = models.CharField(max_length=2, help_text="ISO 3166 code, e.g. GB.")
    rate_bp = models.PositiveIntegerField(help_text="Basis points: 2000 means 20%.")
    label = models.CharField(max_length=50, default="VAT")

    class Meta:
        ordering = ["country"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "country"],
                condition=Q(offer__isnull=False),
                name="taxrate_offer_country_unique",
            ),
            models.UniqueConstraint(
                fields=["country"], condition=Q(offer__isnull=True), name="taxrate_global_unique"
            ),
            models.CheckConstraint(condition=Q(rate_bp__lte=10000), name="taxrate_at_most_100pc"),
        ]

    def __str__(self) -> str:
        scope = self.offer.slug if self.offer_id else "all offers"
        return f"{self.label} {self.country} {self.rate_bp / 100:g}% ({scope})"


# The session key under which the customer portal notes the email this browser proved with a
# magic link, so a checkout started there pays as the buyer's verified Customer.
PORTAL_PROVEN_EMAIL_SESSION_KEY = "portal_proven_email"


class Subscription(models.Model):
    """What a later renewal of a recurring offer needs: who, which card, how much, when."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        # A renewal charge failed or needs the buyer: no further charges until it is settled.
        PAST_DUE = "past_due", "Renewal payment overdue"
        CANCELED = "canceled", "Canceled"

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="subscription")
    customer = models.ForeignKey(
        "payments.Customer", on_delete=models.PROTECT, related_name="subscriptions"
    )
    # The card saved for this subscription (the buyer's checkout card, or the one they chose in
    # the portal): renewals charge this, never whatever card was last saved for the email.
    payment_method_id = models.CharField(max_length=255, blank=True)
    interval = models.CharField(max_length=10, choices=Offer.Interval.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    current_period_start = models.DateTimeField()
    next_charge_at = models.DateTimeField(db_index=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="subscription_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order} every {self.interval}"


_SS = Subscription.Status
# A canceled subscription is final; a past-due one renews again once the overdue renewal is paid.
SUBSCRIPTION_TRANSITIONS: dict[str, set[str]] = {
    _SS.ACTIVE: {_SS.PAST_DUE, _SS.CANCELED},
    _SS.PAST_DUE: {_SS.ACTIVE, _SS.CANCELED},
    _SS.CANCELED: set(),
}


class SubscriptionEvent(StatusEvent):
    """History of a subscription: past due, settled, canceled, and what caused it."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="events")

    def __str__(self) -> str:
        return f"{self.subscription_id}: {self.from_status} → {self.to_status} ({self.cause})"


SUBSCRIPTION_MACHINE = StatusMachine(
    model=Subscription,
    transitions=SUBSCRIPTION_TRANSITIONS,
    history=SubscriptionEvent,
    subject="subscription",
)


class PaymentCsat(models.Model):
    """The buyer's answer to "How easy was paying?" (1 to 5, an optional comment): one per order.

    Reached through a signed link (checkout.csat.services) from the payment-confirmed email and
    the done page, with no login. The first answer stands: the unique order is what makes a
    second one (another click, a race between two tabs) a refusal rather than a second row.
    """

    class Source(models.TextChoices):
        EMAIL = "email", "Payment-confirmed email"
        DONE_PAGE = "done_page", "Checkout done page"

    COMMENT_MAX_LENGTH = 1000

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="csat")
    score = models.PositiveSmallIntegerField()
    # varchar(1000): Postgres refuses a longer comment even from outside the form.
    comment = models.CharField(max_length=COMMENT_MAX_LENGTH, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.EMAIL)
    answered_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "payment CSAT answer"
        verbose_name_plural = "payment CSAT answers"
        ordering = ["-answered_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="payment_csat_score_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order}: {self.score}/5"
