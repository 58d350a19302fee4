"""People and their consent. This app knows nothing of money, offers or orders (DESIGN.md §2b)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.models import StatusEvent
from config.transitions import StatusMachine

# Length limits shared by the form, the API and the service.
EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 150
COMPANY_MAX_LENGTH = 200
PHONE_INPUT_MAX_LENGTH = 32
UTM_MAX_LENGTH = 200
URL_MAX_LENGTH = 2000
CLICK_ID_MAX_LENGTH = 255
USER_AGENT_MAX_LENGTH = 512
SOURCE_FORM_MAX_LENGTH = 64


class ConsentPurpose(models.TextChoices):
    TERMS = "terms", "Terms and privacy notice"
    MARKETING_EMAIL = "marketing_email", "Marketing email"
    SMS = "sms", "Text messages"
    PROCESSING = "processing", "Processing of personal data"


class ConsentState(models.TextChoices):
    """A lead's standing per purpose, derived from the ledger (Lead.consents caches it)."""

    GRANTED = "granted", "Granted"
    PENDING = "pending", "Waiting for email confirmation"
    NOT_GIVEN = "not_given", "Not given"
    WITHDRAWN = "withdrawn", "Withdrawn"


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    UNQUALIFIED = "unqualified", "Unqualified"
    SPAM = "spam", "Suspected spam"
    ERASED = "erased", "Erased on request"


# Which status may follow which. Erasure is final; spam can be released back to new by staff.
LEAD_STATUS_TRANSITIONS: dict[str, set[str]] = {
    LeadStatus.NEW: {
        LeadStatus.CONTACTED,
        LeadStatus.QUALIFIED,
        LeadStatus.UNQUALIFIED,
        LeadStatus.SPAM,
        LeadStatus.ERASED,
    },
    LeadStatus.CONTACTED: {
        LeadStatus.QUALIFIED,
        LeadStatus.UNQUALIFIED,
        LeadStatus.SPAM,
        LeadStatus.ERASED,
    },
    LeadStatus.QUALIFIED: {LeadStatus.UNQUALIFIED, LeadStatus.ERASED},
    LeadStatus.UNQUALIFIED: {LeadStatus.QUALIFIED, LeadStatus.ERASED},
    LeadStatus.SPAM: {LeadStatus.NEW, LeadStatus.ERASED},
    LeadStatus.ERASED: set(),
}


class Segment(models.TextChoices):
    CONSUMER = "consumer", "Consumer"
    BUSINESS = "business", "Business"


class TenderType(models.TextChoices):
    CARD = "card", "Card"
    SEPA_DEBIT = "sepa_debit", "SEPA direct debit"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    INVOICE = "invoice", "Invoice"


class SlaState(models.TextChoices):
    NONE = "none", "No SLA"
    PENDING = "pending", "Waiting for first contact"
    BREACHED = "breached", "Breached"
    MET = "met", "Contacted in time"
    MET_LATE = "met_late", "Contacted late"


class ConsentText(models.Model):
    """One version of the exact wording shown next to a checkbox. Never changed once written:
    new wording is a new version (a database trigger refuses UPDATE and DELETE)."""

    purpose = models.CharField(max_length=32, choices=ConsentPurpose.choices)
    version = models.PositiveIntegerField()
    text = models.TextField(help_text="The exact words shown next to the checkbox.")
    sha256 = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["purpose", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "version"], name="consenttext_purpose_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} v{self.version}"


class Lead(models.Model):
    """One person. The email is stored normalised and is unique (dedupe key)."""

    email = models.EmailField(max_length=EMAIL_MAX_LENGTH, unique=True)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    company = models.CharField(max_length=COMPANY_MAX_LENGTH, blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +442079460958")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    segment = models.CharField(max_length=16, choices=Segment.choices, default=Segment.CONSUMER)
    preferred_tender = models.CharField(
        max_length=16,
        choices=TenderType.choices,
        default=TenderType.CARD,
        help_text="How the buyer intends to pay.",
    )
    status = models.CharField(
        max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW, db_index=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
        # The (owner, status) index in Meta starts with owner_id, so it serves every lookup by
        # owner (and the SET NULL when a user is deleted); an index of its own would repeat it.
        db_index=False,
    )

    # Readiness ("payment-ready lead"), evaluated by lead_readiness_refresh().
    is_ready = models.BooleanField("payment ready", default=False, db_index=True)
    readiness_checklist = models.JSONField(default=list, blank=True)
    readiness_evaluated_at = models.DateTimeField(null=True, blank=True)
    risk_score = models.IntegerField(default=0)
    risk_factors = models.JSONField(default=list, blank=True)
    # The riskiest submission so far: its rules stay part of the score (a clean resubmission
    # does not wash away a honeypot hit).
    submission_risk_factors = models.JSONField(default=list, blank=True)

    # Cached standing per consent purpose (ConsentState); the ledger is the evidence.
    consents = models.JSONField(default=dict, blank=True)
    consent_chain_length = models.PositiveIntegerField(default=0)
    consent_chain_head = models.CharField(max_length=64, blank=True)

    first_touch = models.ForeignKey(
        "leads.Touchpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_touch = models.ForeignKey(
        "leads.Touchpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submissions = models.PositiveIntegerField(default=0)
    # What a later submission said that differs from what we hold (field -> value, and "at"):
    # a repeat submission never overwrites a known detail, since anyone can type anyone's email.
    # The owner sees it in the admin and accepts it, or not.
    submitted_details = models.JSONField(default=dict, blank=True, editable=False)

    # First-response SLA.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_contacted_at = models.DateTimeField(null=True, blank=True)
    first_contacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sla_state = models.CharField(
        "first response",
        max_length=16,
        choices=SlaState.choices,
        default=SlaState.NONE,
        db_index=True,
    )
    sla_level = models.PositiveSmallIntegerField(
        default=0, help_text="Escalation steps taken so far."
    )
    sla_next_check_at = models.DateTimeField(null=True, blank=True)

    # Set by capture, cleared by intake (routing and the double opt-in email, in a worker right
    # after the capture commits). The row is the outbox: the intake sweeper finds what is left.
    intake_pending_since = models.DateTimeField(null=True, blank=True, editable=False)

    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("erase_lead", "Can erase a lead's personal data")]
        indexes = [
            # The SLA sweeper's claim query.
            models.Index(
                fields=["sla_next_check_at"],
                name="lead_sla_due",
                condition=Q(sla_next_check_at__isnull=False),
            ),
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
            # The intake sweeper's claim query.
            models.Index(
                fields=["intake_pending_since"],
                name="lead_intake_pending",
                condition=Q(intake_pending_since__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def consent_state(self, purpose: str) -> str:
        return self.consents.get(purpose, "")


class LeadEvent(StatusEvent):
    """History of a lead's status: quarantined, contacted, qualified, erased, and who did it."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="status_events")

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_status} → {self.to_status} ({self.cause})"


LEAD_MACHINE = StatusMachine(
    model=Lead, transitions=LEAD_STATUS_TRANSITIONS, history=LeadEvent, subject="lead"
)


class Touchpoint(models.Model):
    """One visit that submitted a form: where the buyer came from."""

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="touchpoints")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    source_form = models.CharField(max_length=SOURCE_FORM_MAX_LENGTH, blank=True)
    utm_source = models.CharField(max_length=UTM_MAX_LENGTH, blank=True)
    utm_medium = models.CharField(max_length=UTM_MAX_LENGTH, blank=True)
    utm_campaign = models.CharField(max_length=UTM_MAX_LENGTH, blank=True)
    utm_term = models.CharField(max_length=UTM_MAX_LENGTH, blank=True)
    utm_content = models.CharField(max_length=UTM_MAX_LENGTH, blank=True)
    referrer = models.CharField(max_length=URL_MAX_LENGTH, blank=True)
    landing_page = models.CharField(max_length=URL_MAX_LENGTH, blank=True)
    gclid = models.CharField(max_length=CLICK_ID_MAX_LENGTH, blank=True)
    fbclid = models.CharField(max_length=CLICK_ID_MAX_LENGTH, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    ip_country = models.CharField(max_length=2, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    risk_score = models.IntegerField(default=0)
    risk_factors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        source = self.utm_source or self.referrer or "direct"
        return f"{self.created_at:%Y-%m-%d %H:%M} via {source}"


class ConsentRecord(models.Model):
    """Append-only evidence of one consent decision, chained per lead by hashes.

    A database trigger refuses UPDATE and DELETE. `record_hash` covers every field plus the
    previous record's hash, so a changed, removed or reordered record breaks the chain
    (`manage.py consent_chain_verify`).
    """

    class Decision(models.TextChoices):
        GRANTED = "granted", "Granted"
        NOT_GIVEN = "not_given", "Not given (box left unticked)"
        PENDING = "pending_confirmation", "Ticked, waiting for email confirmation"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Method(models.TextChoices):
        FORM = "form", "Web form"
        API = "api", "API"
        DOUBLE_OPT_IN = "double_opt_in", "Double opt-in link"
        ADMIN = "admin", "Staff in the admin"
        WITHDRAWAL_LINK = "withdrawal_link", "Withdrawal link"

    lead = models.ForeignKey(
        Lead,
        on_delete=models.PROTECT,
        related_name="consent_records",
        # The unique (lead, sequence) constraint in Meta starts with lead_id, so its index serves
        # every lookup by lead; an index of its own would repeat it.
        db_index=False,
    )
    sequence = models.PositiveIntegerField()
    purpose = models.CharField(max_length=32, choices=ConsentPurpose.choices)
    decision = models.CharField(max_length=24, choices=Decision.choices)
    method = models.CharField(max_length=24, choices=Method.choices)
    consent_text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="+")
    text_sha256 = models.CharField(max_length=64)
    # Keyed hash of the normalised email at the time: identifies the person even after the
    # lead's personal data is pseudonymised on an erasure request.
    subject_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    source_form = models.CharField(max_length=SOURCE_FORM_MAX_LENGTH, blank=True)
    source_url = models.CharField(max_length=URL_MAX_LENGTH, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    prev_hash = models.CharField(max_length=64, blank=True)
    record_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["lead_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "sequence"], name="consentrecord_lead_sequence"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.purpose}: {self.decision} ({self.method})"


class ConsentConfirmation(models.Model):
    """A double opt-in request: the pending record, the email we sent, and its confirmation.

    Mutable bookkeeping beside the append-only ledger; the confirmation itself is a new
    ConsentRecord. `sent_at` empty means the email still has to go out (the outbox sweeper
    re-drives it).
    """

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="confirmations")
    pending_record = models.OneToOneField(
        ConsentRecord, on_delete=models.PROTECT, related_name="confirmation"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_record = models.OneToOneField(
        ConsentRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], name="confirmation_unsent", condition=Q(sent_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return (
            f"Confirmation for lead {self.lead_id} ({'confirmed' if self.confirmed_at else 'open'})"
        )


class ReadinessPolicy(models.Model):
    """What makes a lead payment-ready. One active policy; editing it re-evaluates every lead."""

    name = models.CharField(max_length=100, default="Default")
    is_active = models.BooleanField(default=True)
    required_consents = ArrayField(
        models.CharField(max_length=32, choices=ConsentPurpose.choices),
        default=list,
        blank=True,
        help_text="Consents a lead must have granted.",
    )
    allowed_billing_countries = ArrayField(
        models.CharField(max_length=2),
        default=list,
        blank=True,
        help_text="ISO country codes, comma-separated. Empty means any country.",
    )
    max_risk_score = models.PositiveIntegerField(default=50)
    accepted_tender_types = ArrayField(
        models.CharField(max_length=16, choices=TenderType.choices), default=list, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name_plural = "readiness policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_policy"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SalesOwner(models.Model):
    """A Sales staff user who can own leads, with capacity and an escalation contact."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_owner"
    )
    capacity = models.PositiveIntegerField(
        default=25, help_text="Most open leads (new or contacted) this person should hold."
    )
    team_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Told when this person's lead breaches its first-response SLA.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class OutOfOffice(models.Model):
    """A period when an owner gets no new leads; a delegate takes them if one is named."""

    owner = models.ForeignKey(SalesOwner, on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    delegate = models.ForeignKey(
        SalesOwner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "out-of-office period"
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="absence_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.owner} away {self.starts_at:%Y-%m-%d} to {self.ends_at:%Y-%m-%d}"


class RoutingRule(models.Model):
    """Who gets a new lead. Rules are tried by priority; the first match with someone available
    wins."""

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin"
        LOAD_BALANCED = "load_balanced", "Load balanced by capacity"

    name = models.CharField(max_length=100)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    is_active = models.BooleanField(default=True)
    strategy = models.CharField(
        max_length=16, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    countries = ArrayField(
        models.CharField(max_length=2),
        default=list,
        blank=True,
        help_text="ISO country codes, comma-separated. Empty matches any country.",
    )
    segment = models.CharField(
        max_length=16, choices=Segment.choices, blank=True, help_text="Empty matches any segment."
    )
    members = models.ManyToManyField(SalesOwner, related_name="routing_rules")
    # Leads routed by this rule so far; round robin starts at `turns % members`. Incremented
    # with UPDATE … RETURNING, which also locks the rule for the rest of the transaction.
    turns = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """History of who owned a lead and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["-assigned_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.owner} at {self.assigned_at:%Y-%m-%d %H:%M}: {self.reason}"


class SlaEvent(models.Model):
    """One escalation step taken on a lead whose first response is overdue."""

    class Action(models.TextChoices):
        NOTIFY_OWNER = "notify_owner", "Remind the owner"
        NOTIFY_TEAM_LEAD = "notify_team_lead", "Tell the team lead"
        REASSIGN = "reassign", "Reassign to someone else"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="sla_events")
    level = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=24, choices=Action.choices)
    created_at = models.DateTimeField()
    detail = models.CharField(max_length=300, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["lead_id", "level"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "level"], name="slaevent_lead_level")
        ]

    def __str__(self) -> str:
        return f"Level {self.level}: {self.get_action_display()}"
