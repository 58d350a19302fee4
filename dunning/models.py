"""Dunning: policies, cases, attempts, payment links and the triggers that open cases.

Money, orders and subscriptions stay where they are (payments, checkout); this app only follows
them. Messages to the buyer go through checkout's `Notification` (one message log).
"""

from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from config.models import StatusEvent
from config.transitions import StatusMachine
from dunning.declines import Category


class TemplateKey(models.TextChoices):
    FIRST_NOTICE = "first_notice", "First notice after a failed payment"
    REMINDER = "reminder", "Reminder"
    SECOND_REMINDER = "second_reminder", "Second reminder"
    FINAL_NOTICE = "final_notice", "Final notice before canceling"
    ACTION_NEEDED = "action_needed", "The bank needs the buyer (authentication, new card)"
    FRESH_LINK = "fresh_link", "A fresh payment link, on request"
    DEPOSIT_DUE_SOON = "deposit_due_soon", "Deposit balance due soon"
    CARD_EXPIRING = "card_expiring", "Card expiring before the next renewal"


class Language(models.TextChoices):
    EN = "en", "English"
    DE = "de", "Deutsch"


class DunningPolicy(models.Model):
    """How a failed payment is followed: its steps, limits and the hours it keeps to.

    One policy may belong to an offer; the default (`is_default`) applies to every other offer.
    An inactive policy means no dunning for its offers: checkout's own failure email is sent.
    """

    class PaydayMode(models.TextChoices):
        NONE = "none", "No payday timing"
        FIRST_AND_FIFTEENTH = "first_and_fifteenth", "The next 1st or 15th of the month"
        DAYS_LATER = "days_later", "A number of days after the decline"

    name = models.CharField(max_length=100)
    offer = models.OneToOneField(
        "checkout.Offer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dunning_policy",
        help_text="Empty for the default policy.",
    )
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(
        default=True, help_text="Off: failed payments of these offers are not followed up."
    )
    max_retries = models.PositiveSmallIntegerField(
        default=6, help_text="Automatic retries of the saved card, at most."
    )
    unknown_code_max_retries = models.PositiveSmallIntegerField(
        default=2, help_text="The lower cap when the bank's decline code is not in our table."
    )
    window_days = models.PositiveSmallIntegerField(
        default=14, help_text="Nothing is retried later than this many days after the failure."
    )
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(
        default=time(8, 0), help_text="Messages and retries wait for the buyer's morning."
    )
    maintenance_start = models.TimeField(default=time(0, 0))
    maintenance_end = models.TimeField(
        default=time(4, 0), help_text="Banks' nightly maintenance, in the buyer's timezone."
    )
    payday_mode = models.CharField(
        max_length=20,
        choices=PaydayMode.choices,
        default=PaydayMode.NONE,
        help_text="Only for declines for insufficient funds.",
    )
    payday_days_later = models.PositiveSmallIntegerField(default=3)
    deposit_reminder_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=3,
        help_text="Remind the buyer this many days before a deposit balance is due (empty: no).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "dunning policies"
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="dunning_one_default"
            ),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(offer__isnull=True),
                name="dunning_default_has_no_offer",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DunningPolicyStep(models.Model):
    class Action(models.TextChoices):
        RETRY = "retry", "Retry the saved card (off-session)"
        EMAIL = "email", "Email with a payment link"
        SMS = "sms", "Text message with a payment link (only with SMS consent)"
        ESCALATE = "escalate", "Escalate to staff"
        CANCEL = "cancel", "Cancel the order or subscription"

    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    offset = models.DurationField(
        help_text="After the failure, e.g. 3 00:00:00 for three days, 00:05:00 for 5 minutes."
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    template = models.CharField(
        max_length=30,
        choices=TemplateKey.choices,
        blank=True,
        help_text="For email and text messages.",
    )

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="dunning_step_position"),
        ]

    def __str__(self) -> str:
        return f"{self.position}: {self.get_action_display()} after {self.offset}"


class DunningMessageTemplate(models.Model):
    """The copy of one message, per language. Django template syntax; staff edit it in the admin
    with a preview. Variables: see docs/dunning.md."""

    key = models.CharField(max_length=30, choices=TemplateKey.choices)
    language = models.CharField(max_length=8, choices=Language.choices)
    subject = models.CharField(max_length=200)
    body_text = models.TextField()
    body_html = models.TextField()
    sms_text = models.CharField(max_length=480, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "language"]
        constraints = [
            models.UniqueConstraint(fields=["key", "language"], name="dunning_template_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_key_display()} ({self.language})"


class DunningCase(models.Model):
    """One failed payment (or overdue balance) followed until it is paid or given up.

    One case per order and cause. Its status changes only through `dunning_case_transition`
    (dunning/services/transitions.py). `next_action_at` is when the scheduler next works on it:
    the due time of step `next_step`, or, while a worker holds it, the end of that lease.
    """

    class Cause(models.TextChoices):
        CHECKOUT = "checkout", "Checkout payment failed"
        RENEWAL = "renewal", "Renewal declined"
        DEPOSIT = "deposit", "Deposit balance overdue"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
        AWAITING_CUSTOMER = "awaiting_customer", "Waiting for the buyer"
        ESCALATED = "escalated", "Escalated to staff"
        RECOVERED = "recovered", "Recovered"
        EXHAUSTED = "exhausted", "Exhausted"
        CANCELED = "canceled", "Canceled"

    class Channel(models.TextChoices):
        RETRY = "retry", "Automatic retry"
        LINK = "link", "Payment link"
        PORTAL = "portal", "Customer portal"
        CHECKOUT = "checkout", "Checkout page"
        TRANSFER = "transfer", "Bank transfer"
        OTHER = "other", "Other"

    # Indexed by the (order, cause) unique constraint.
    order = models.ForeignKey(
        "checkout.Order", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    cause = models.CharField(max_length=20, choices=Cause.choices)
    subscription = models.ForeignKey(
        "checkout.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Only the indexes a query uses (policies, payments and customers are never deleted).
    policy = models.ForeignKey(
        DunningPolicy, on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    # At risk: what the order still owed when the case opened (minor units of `currency`).
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    amount_recovered = models.BigIntegerField(default=0)
    recovered_channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    failed_payment = models.ForeignKey(
        "payments.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # Whose card is retried and who gets a SetupIntent on the payment page.
    customer = models.ForeignKey(
        "payments.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    decline_code = models.CharField(max_length=100, blank=True)
    failure_code = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.SOFT)
    code_known = models.BooleanField(default=True)
    # The card the last decline was for: a hard or customer-action decline blocks retries of
    # this card only; a new card (portal, payment link) may be retried.
    declined_payment_method_id = models.CharField(max_length=255, blank=True)
    failed_at = models.DateTimeField()
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    next_step = models.PositiveSmallIntegerField(default=0)
    next_action_at = models.DateTimeField(null=True, blank=True)
    # Set when the scheduler hands the step to a worker; the case is due again after it (the
    # worker died). Not indexed, and apart from next_action_at, so that the claim's UPDATE is a
    # heap-only (HOT) update that touches no index (the table leaves room for that: fillfactor).
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts_made = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    timezone = models.CharField(max_length=64, default="Europe/London")
    callback_requested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-amount"]
        permissions = [
            ("work_dunningcase", "Can work dunning cases (retry, link, pause, assign, note)"),
            ("settle_dunningcase", "Can mark dunning cases paid by transfer or write them off"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "cause"], name="dunning_case_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="dunning_case_amount_positive"),
        ]
        indexes = [
            # The scheduler's claim: only cases with something to do are in it.
            models.Index(
                fields=["next_action_at", "id"],
                name="dunning_case_due",
                condition=Q(next_action_at__isnull=False),
            ),
            models.Index(fields=["status", "amount"], name="dunning_case_queue"),
            models.Index(fields=["opened_at"], name="dunning_case_opened"),
        ]

    def __str__(self) -> str:
        return f"case #{self.pk} ({self.get_cause_display()}, {self.status})"

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


_C = DunningCase.Status
# Still being worked: the scheduler runs steps, links work, staff act.
ACTIVE_STATUSES = {_C.OPEN, _C.RETRY_SCHEDULED, _C.AWAITING_CUSTOMER, _C.ESCALATED}
CLOSED_STATUSES = {_C.RECOVERED, _C.EXHAUSTED, _C.CANCELED}
# The allowed moves (STYLE.md, State). A success from any channel closes any case that is not
# already recovered or canceled: money that arrives after a case was given up still counts.
DUNNING_CASE_TRANSITIONS: dict[str, set[str]] = {
    _C.OPEN: {_C.RETRY_SCHEDULED, _C.AWAITING_CUSTOMER, _C.ESCALATED, _C.RECOVERED,
              _C.EXHAUSTED, _C.CANCELED},
    _C.RETRY_SCHEDULED: {_C.AWAITING_CUSTOMER, _C.ESCALATED, _C.RECOVERED, _C.EXHAUSTED,
                         _C.CANCELED},
    _C.AWAITING_CUSTOMER: {_C.RETRY_SCHEDULED, _C.ESCALATED, _C.RECOVERED, _C.EXHAUSTED,
                           _C.CANCELED},
    _C.ESCALATED: {_C.RETRY_SCHEDULED, _C.AWAITING_CUSTOMER, _C.RECOVERED, _C.EXHAUSTED,
                   _C.CANCELED},
    _C.EXHAUSTED: {_C.RECOVERED},
    _C.RECOVERED: set(),
    _C.CANCELED: set(),
}  # fmt: skip


class DunningCaseEvent(StatusEvent):
    """Every attempted change of a case's status, applied or refused, and its cause (the same
    shape as payments.PaymentEvent)."""

    case = models.ForeignKey(DunningCase, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=30)
    to_status = models.CharField(max_length=30)


DUNNING_CASE_MACHINE = StatusMachine(
    model=DunningCase,
    transitions=DUNNING_CASE_TRANSITIONS,
    history=DunningCaseEvent,
    subject="case",
)


class DunningAttempt(models.Model):
    """One retry of the saved card: one PaymentIntent, keyed by the case and attempt number.

    `(case, step)` is unique, so two schedulers (or a redelivered task) racing on one policy step
    make one attempt whatever the locks did; a staff "retry now" has no step.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Being charged"
        SUCCEEDED = "succeeded", "Paid"
        FAILED = "failed", "Declined"
        REQUIRES_ACTION = "requires_action", "Needs the buyer (authentication)"
        PROCESSING = "processing", "Processing at the bank"
        CANCELED = "canceled", "Not charged (the case changed first)"

    case = models.ForeignKey(DunningCase, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    # The card charged and the Customer it is saved for (the case's, read when it was made).
    customer = models.ForeignKey("payments.Customer", on_delete=models.PROTECT, related_name="+")
    payment_method_id = models.CharField(max_length=255)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    decline_code = models.CharField(max_length=100, blank=True)
    failure_code = models.CharField(max_length=100, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="dunning_attempt_number"),
            models.UniqueConstraint(
                fields=["case", "step"],
                condition=Q(step__isnull=False),
                name="dunning_attempt_once_per_step",
            ),
        ]
        indexes = [
            # The per-card cap (DUNNING_CARD_RETRY_CAP in DUNNING_CARD_RETRY_CAP_DAYS).
            models.Index(fields=["payment_method_id", "created_at"], name="dunning_attempt_card"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of case {self.case_id} ({self.status})"


class DunningTrigger(models.Model):
    """News that may open a case later, with the time to look again.

    A checkout failure waits out the grace period (the buyer may still pay on the page); a
    deposit balance is looked at when it falls due, and a few days before for the reminder.
    One per order and kind.
    """

    class Kind(models.TextChoices):
        CHECKOUT_FAILED = "checkout_failed", "Checkout payment failed"
        RENEWAL_FAILED = "renewal_failed", "Renewal declined"
        DEPOSIT_DUE_SOON = "deposit_due_soon", "Deposit balance due soon"
        DEPOSIT_OVERDUE = "deposit_overdue", "Deposit balance overdue"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        FIRED = "fired", "Acted on"
        DISMISSED = "dismissed", "Nothing to do (paid, canceled or not followed)"

    order = models.ForeignKey("checkout.Order", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    acted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "kind"], name="dunning_trigger_once"),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], name="dunning_trigger_due", condition=Q(status="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for order {self.order_id} ({self.status})"


class PaymentLink(models.Model):
    """A link to /pay/<token>/ for one case and amount. Only the token's sha256 is stored: the
    token itself exists in the message that carried it. It works until it expires, is used to
    pay, or its case closes."""

    case = models.ForeignKey(DunningCase, on_delete=models.PROTECT, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Card payments started from this link (each a new PaymentIntent after a failure).
    attempts = models.PositiveSmallIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    last_clicked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_in = models.CharField(max_length=200, blank=True, help_text="The message's key.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"link #{self.pk} for case {self.case_id}"

    @property
    def lifetime(self) -> timedelta:
        return self.expires_at - self.created_at


class PaymentLinkClick(models.Model):
    link = models.ForeignKey(PaymentLink, on_delete=models.CASCADE, related_name="click_log")
    clicked_at = models.DateTimeField()
    # What the link said when it was opened: usable, expired, used or closed.
    outcome = models.CharField(max_length=20)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-clicked_at"]

    def __str__(self) -> str:
        return f"{self.link_id} opened {self.clicked_at:%Y-%m-%d %H:%M} ({self.outcome})"


class DunningCaseNote(models.Model):
    """A note by staff, a callback request or a bank transfer the buyer announced."""

    class Kind(models.TextChoices):
        NOTE = "note", "Staff note"
        CALLBACK = "callback", "The buyer asked to be called back"
        TRANSFER_ANNOUNCED = "transfer_announced", "The buyer says they pay by bank transfer"

    case = models.ForeignKey(DunningCase, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NOTE)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"
