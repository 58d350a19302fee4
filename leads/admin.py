"""Sales staff work leads here. Every change goes through a service; consent evidence is
read-only for everyone.

Other apps add actions to the lead list from their own AppConfig.ready(), for example the
checkout app's "send a checkout link for an offer":

    from leads.admin import LeadAdmin
    LeadAdmin.actions.append(send_checkout_link)
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from config.admin import HistoryInline, ReadOnlyAdmin
from leads.models import (
    Assignment,
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    ConsentText,
    Lead,
    LeadStatus,
    OutOfOffice,
    ReadinessPolicy,
    RoutingRule,
    SalesOwner,
    SlaEvent,
    SlaState,
    TenderType,
    Touchpoint,
)
from leads.normalise import LeadInputError
from leads.selectors import lead_consent_history
from leads.services import (
    AssignmentRefused,
    LeadStatusRefused,
    consent_text_publish,
    lead_assign,
    lead_erase,
    lead_first_contact_log,
    lead_status_change,
    lead_update,
    readiness_policy_save,
)
from leads.services.routing import sales_users


def _badge(text: str, tone: str):
    return format_html('<span class="lead-badge lead-badge--{}">{}</span>', tone, text)


SLA_TONES = {
    SlaState.PENDING: "warn",
    SlaState.BREACHED: "bad",
    SlaState.MET: "ok",
    SlaState.MET_LATE: "warn",
    SlaState.NONE: "muted",
}
CONSENT_TONES = {
    ConsentState.GRANTED: "ok",
    ConsentState.PENDING: "warn",
    ConsentState.WITHDRAWN: "bad",
    ConsentState.NOT_GIVEN: "muted",
}
CONSENT_SHORT = {
    ConsentPurpose.TERMS: "Terms",
    ConsentPurpose.MARKETING_EMAIL: "Email",
    ConsentPurpose.SMS: "SMS",
    ConsentPurpose.PROCESSING: "Processing",
}


class ConsentListFilter(admin.SimpleListFilter):
    title = "consent"
    parameter_name = "consent"

    def lookups(self, request, model_admin):
        return [
            (f"{purpose}:{state}", f"{CONSENT_SHORT[purpose]}: {state_label.lower()}")
            for purpose in ConsentPurpose.values
            for state, state_label in ConsentState.choices
        ]

    def queryset(self, request, queryset):
        if not self.value() or ":" not in self.value():
            return queryset
        purpose, state = self.value().split(":", 1)
        if purpose not in ConsentPurpose.values or state not in ConsentState.values:
            return queryset
        return queryset.filter(**{f"consents__{purpose}": state})


class LeadActionForm(ActionForm):
    owner = forms.ModelChoiceField(
        queryset=None, required=False, label="Owner (for “Assign”)", empty_label="Choose…"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = sales_users().order_by("username")


class LeadChangeForm(forms.ModelForm):
    class Meta:
        model = Lead
        fields = [
            "name",
            "company",
            "phone",
            "country",
            "segment",
            "preferred_tender",
            "status",
            "owner",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:
            self.fields["owner"].queryset = sales_users().order_by("username")
        if "status" in self.fields and self.instance.status != LeadStatus.ERASED:
            # Erasure is an action (it removes the personal data), not a status to pick.
            self.fields["status"].choices = [
                choice for choice in LeadStatus.choices if choice[0] != LeadStatus.ERASED
            ]
        if "phone" in self.fields:
            self.fields["phone"].max_length = 32
            self.fields["phone"].widget.attrs["maxlength"] = 32
        if "country" in self.fields:
            self.fields["country"].widget.attrs["maxlength"] = 2

    def clean(self):
        # The service is the one judge of a valid edit; show its messages on the fields.
        cleaned = super().clean()
        instance = self.instance
        if instance.pk is None:
            return cleaned
        if "status" in self.changed_data:
            from leads.models import LEAD_STATUS_TRANSITIONS

            allowed = LEAD_STATUS_TRANSITIONS.get(instance.status, set())
            if cleaned.get("status") not in allowed | {instance.status}:
                self.add_error("status", "A lead cannot move to that status from here.")
        return cleaned


class TouchpointInline(HistoryInline):
    model = Touchpoint
    fields = [
        "created_at",
        "source_form",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "referrer",
        "landing_page",
        "gclid",
        "fbclid",
        "risk_score",
    ]
    ordering = ["-created_at"]
    show_change_link = True

    def has_change_permission(self, request, obj=None):
        return False


class AssignmentInline(HistoryInline):
    model = Assignment
    fk_name = "lead"
    fields = ["assigned_at", "owner", "assigned_by", "rule", "reason"]
    verbose_name_plural = "ownership history"

    def has_change_permission(self, request, obj=None):
        return False


class SlaEventInline(HistoryInline):
    model = SlaEvent
    fields = ["level", "action", "created_at", "detail", "notified_at"]
    verbose_name_plural = "SLA escalations"

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    form = LeadChangeForm
    action_form = LeadActionForm
    list_display = [
        "email",
        "name",
        "company",
        "owner",
        "status",
        "readiness_badge",
        "sla_badge",
        "consent_badges",
        "risk_score",
        "created_at",
    ]
    list_display_links = ["email", "name"]
    list_filter = [
        ("owner", admin.RelatedOnlyFieldListFilter),
        "sla_state",
        "is_ready",
        ConsentListFilter,
        "status",
        "segment",
        "country",
    ]
    list_select_related = ["owner"]
    search_fields = ["email", "name", "company", "phone"]
    date_hierarchy = "created_at"
    list_per_page = 50
    readonly_fields = [
        "email",
        "readiness_badge",
        "readiness_checklist_display",
        "risk_score",
        "risk_factors_display",
        "consent_badges",
        "consent_history",
        "sla_badge",
        "first_response_due_at",
        "first_contacted_at",
        "first_contacted_by",
        "sla_level",
        "first_touch_display",
        "last_touch_display",
        "submissions",
        "created_at",
        "erased_at",
    ]
    fieldsets = [
        (None, {"fields": ["email", "name", "company", "phone", "country", "segment"]}),
        ("Ownership and status", {"fields": ["owner", "status", "created_at", "erased_at"]}),
        (
            "Payment readiness",
            {
                "fields": [
                    "readiness_badge",
                    "readiness_checklist_display",
                    "preferred_tender",
                    "risk_score",
                    "risk_factors_display",
                ]
            },
        ),
        (
            "First response",
            {
                "fields": [
                    "sla_badge",
                    "first_response_due_at",
                    "first_contacted_at",
                    "first_contacted_by",
                    "sla_level",
                ]
            },
        ),
        (
            "Where they came from",
            {"fields": ["first_touch_display", "last_touch_display", "submissions"]},
        ),
        ("Consent (read-only evidence)", {"fields": ["consent_badges", "consent_history"]}),
    ]
    inlines = [AssignmentInline, SlaEventInline, TouchpointInline]
    # A plain list, so other apps can append their own actions (see the module docstring).
    actions = [
        "assign_owner",
        "log_first_contact",
        "mark_spam",
        "release_from_spam",
        "erase_personal_data",
    ]

    class Media:
        css = {"all": ["css/leads_admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")

    def has_add_permission(self, request):
        # Leads come in through the form, the API or checkout, never typed in by hand.
        return False

    def has_delete_permission(self, request, obj=None):
        # Never deleted: an erasure request pseudonymises instead (action below).
        return False

    def has_erase_permission(self, request):
        # An erasure request is a privacy decision, not sales work: Admin group only.
        return request.user.has_perm("leads.erase_lead")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status == LeadStatus.ERASED:
            fields += list(LeadChangeForm.Meta.fields)
        return fields

    def save_model(self, request, obj, form, change):
        lead = Lead.objects.get(pk=obj.pk)
        details = {
            field: form.cleaned_data[field]
            for field in ("name", "company", "phone", "country", "segment", "preferred_tender")
            if field in form.changed_data
        }
        try:
            if details:
                lead_update(lead=lead, actor=request.user, **details)
            if "owner" in form.changed_data and form.cleaned_data["owner"] is not None:
                lead_assign(lead=lead, owner=form.cleaned_data["owner"], actor=request.user)
            if "status" in form.changed_data:
                lead_status_change(lead=lead, to=form.cleaned_data["status"], actor=request.user)
        except (LeadInputError, AssignmentRefused, LeadStatusRefused) as exc:
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)
        obj.refresh_from_db()

    # Columns and read-only displays -----------------------------------------------------

    @admin.display(description="Ready", ordering="is_ready")
    def readiness_badge(self, lead: Lead):
        if lead.is_ready:
            return _badge("Ready", "ok")
        missing = sum(1 for _, ok in lead.readiness_checklist if not ok)
        return _badge(f"Not ready ({missing})", "bad")

    @admin.display(description="Checklist")
    def readiness_checklist_display(self, lead: Lead):
        if not lead.readiness_checklist:
            return "Not evaluated yet."
        return format_html(
            '<ul class="lead-checklist">{}</ul>',
            format_html_join(
                "",
                '<li class="lead-check--{}">{} {}</li>',
                (
                    ("ok" if ok else "bad", "✔" if ok else "✘", label)
                    for label, ok in lead.readiness_checklist
                ),
            ),
        )

    @admin.display(description="Risk rules that fired")
    def risk_factors_display(self, lead: Lead):
        if not lead.risk_factors:
            return "None."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><strong>+{}</strong> {}</li>",
                ((f["points"], f["reason"]) for f in lead.risk_factors),
            ),
        )

    @admin.display(description="First response", ordering="sla_state")
    def sla_badge(self, lead: Lead):
        label = SlaState(lead.sla_state).label
        if lead.sla_state == SlaState.PENDING and lead.first_response_due_at:
            label = f"Due {timezone.localtime(lead.first_response_due_at):%d %b %H:%M}"
        return _badge(label, SLA_TONES.get(lead.sla_state, "muted"))

    @admin.display(description="Consent")
    def consent_badges(self, lead: Lead):
        shown = [(purpose, state) for purpose, state in lead.consents.items() if state]
        if not shown:
            return "—"
        return format_html_join(
            " ",
            '<span class="lead-badge lead-badge--{}" title="{}">{}</span>',
            (
                (
                    CONSENT_TONES.get(state, "muted"),
                    ConsentState(state).label,
                    f"{CONSENT_SHORT.get(purpose, purpose)}: {ConsentState(state).label.lower()}",
                )
                for purpose, state in shown
            ),
        )

    @admin.display(description="Consent history")
    def consent_history(self, lead: Lead):
        rows = lead_consent_history(lead=lead)
        if not rows:
            return "No consent records."
        return format_html(
            '<table class="lead-consent-history"><thead><tr><th>#</th><th>When</th>'
            "<th>Purpose</th><th>Decision</th><th>How</th><th>Wording shown</th><th>From</th>"
            "<th>Hash</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                "<td><details><summary>v{}</summary>{}</details></td><td>{}<br><small>{}</small>"
                "</td><td><code>{}…</code></td></tr>",
                (
                    (
                        record.sequence,
                        timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                        record.get_purpose_display(),
                        record.get_decision_display(),
                        record.get_method_display()
                        + (f" by {record.actor}" if record.actor_id else ""),
                        record.consent_text.version,
                        record.consent_text.text,
                        record.ip or "—",
                        record.source_url or record.source_form,
                        record.record_hash[:12],
                    )
                    for record in rows
                ),
            ),
        )

    def _touch(self, touch: Touchpoint | None):
        if touch is None:
            return "—"
        parts = [
            ("Source", touch.utm_source),
            ("Medium", touch.utm_medium),
            ("Campaign", touch.utm_campaign),
            ("Term", touch.utm_term),
            ("Content", touch.utm_content),
            ("Referrer", touch.referrer),
            ("Landing page", touch.landing_page),
            ("gclid", touch.gclid),
            ("fbclid", touch.fbclid),
        ]
        return format_html(
            "{}<br>{}",
            timezone.localtime(touch.created_at).strftime("%Y-%m-%d %H:%M"),
            format_html_join(", ", "{}: {}", ((k, v) for k, v in parts if v)) or "direct",
        )

    @admin.display(description="First touch")
    def first_touch_display(self, lead: Lead):
        return self._touch(lead.first_touch)

    @admin.display(description="Last touch")
    def last_touch_display(self, lead: Lead):
        return self._touch(lead.last_touch)

    # Actions -----------------------------------------------------------------------------

    @admin.action(description="Assign selected leads to the chosen owner", permissions=["change"])
    def assign_owner(self, request: HttpRequest, queryset: QuerySet[Lead]):
        owner_id = request.POST.get("owner")
        owner = sales_users().filter(pk=owner_id).first() if owner_id else None
        if owner is None:
            self.message_user(
                request, "Choose an owner in the list next to the action first.", messages.ERROR
            )
            return
        done = 0
        for lead in queryset:
            try:
                lead_assign(lead=lead, owner=owner, actor=request.user)
                done += 1
            except AssignmentRefused as exc:
                self.message_user(request, f"{lead}: {exc}", messages.WARNING)
        self.message_user(request, f"{done} lead(s) assigned to {owner}.", messages.SUCCESS)

    @admin.action(description="Log first contact (stops the SLA clock)", permissions=["change"])
    def log_first_contact(self, request: HttpRequest, queryset: QuerySet[Lead]):
        for lead in queryset:
            lead_first_contact_log(lead=lead, actor=request.user)
        self.message_user(
            request, f"First contact logged on {queryset.count()} lead(s).", messages.SUCCESS
        )

    def _status_action(self, request, queryset, to: str, verb: str):
        done = 0
        for lead in queryset:
            try:
                lead_status_change(lead=lead, to=to, actor=request.user, reason=verb)
                done += 1
            except LeadStatusRefused as exc:
                self.message_user(request, f"{lead}: {exc}", messages.WARNING)
        self.message_user(request, f"{done} lead(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Mark as spam (no owner time, no emails)", permissions=["change"])
    def mark_spam(self, request, queryset):
        self._status_action(request, queryset, LeadStatus.SPAM, "marked as spam")

    @admin.action(
        description="Release from spam (routes and starts the SLA)", permissions=["change"]
    )
    def release_from_spam(self, request, queryset):
        self._status_action(
            request, queryset.filter(status=LeadStatus.SPAM), LeadStatus.NEW, "released"
        )

    @admin.action(
        description="Erase personal data (erasure request; keeps consent evidence)",
        permissions=["erase"],
    )
    def erase_personal_data(self, request, queryset):
        count = 0
        for lead in queryset:
            lead_erase(lead=lead, actor=request.user, reason="Erasure request (admin)")
            count += 1
        self.message_user(
            request,
            f"{count} lead(s) pseudonymised. Consent records and linked financial records "
            "were kept.",
            messages.SUCCESS,
        )


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "lead", "sequence", "purpose", "decision", "method", "ip"]
    list_filter = ["purpose", "decision", "method"]
    search_fields = ["lead__email", "record_hash"]
    list_select_related = ["lead"]
    date_hierarchy = "created_at"


@admin.register(Touchpoint)
class TouchpointAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "lead", "utm_source", "utm_medium", "utm_campaign", "referrer"]
    list_filter = ["utm_source", "utm_medium", "source_form"]
    search_fields = ["lead__email", "utm_campaign", "gclid", "fbclid"]
    list_select_related = ["lead"]


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    """New wording is a new version; old versions stay as they were shown."""

    list_display = ["purpose", "version", "created_at", "sha256"]
    list_filter = ["purpose"]
    fields = ["purpose", "text", "version", "sha256", "created_at", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        base = ["version", "sha256", "created_at", "created_by"]
        return base if obj is None else ["purpose", "text", *base]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        published = consent_text_publish(
            purpose=form.cleaned_data["purpose"], text=form.cleaned_data["text"], actor=request.user
        )
        obj.pk = published.pk
        obj.version = published.version


class ReadinessPolicyForm(forms.ModelForm):
    required_consents = forms.MultipleChoiceField(
        choices=ConsentPurpose.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    accepted_tender_types = forms.MultipleChoiceField(
        choices=TenderType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = ReadinessPolicy
        fields = [
            "name",
            "is_active",
            "required_consents",
            "allowed_billing_countries",
            "max_risk_score",
            "accepted_tender_types",
        ]

    def clean_allowed_billing_countries(self):
        from leads.normalise import country_normalise

        codes = []
        for code in self.cleaned_data["allowed_billing_countries"]:
            try:
                codes.append(country_normalise(code))
            except LeadInputError:
                raise forms.ValidationError(f"{code!r} is not an ISO country code.") from None
        return [code for code in codes if code]


@admin.register(ReadinessPolicy)
class ReadinessPolicyAdmin(admin.ModelAdmin):
    form = ReadinessPolicyForm
    list_display = [
        "name",
        "is_active",
        "required_consents",
        "allowed_billing_countries",
        "max_risk_score",
        "accepted_tender_types",
        "updated_at",
    ]

    def save_model(self, request, obj, form, change):
        readiness_policy_save(policy=obj, actor=request.user)
        self.message_user(request, "Every lead is being re-evaluated against this policy.")


class OutOfOfficeInline(admin.TabularInline):
    model = OutOfOffice
    fk_name = "owner"
    extra = 1
    fields = ["starts_at", "ends_at", "delegate", "note"]


class SalesOwnerForm(forms.ModelForm):
    class Meta:
        model = SalesOwner
        fields = ["user", "capacity", "team_lead", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A view-only user gets these fields read-only, so they may be absent.
        if "user" in self.fields:
            self.fields["user"].queryset = sales_users().order_by("username")
        if "team_lead" in self.fields:
            self.fields["team_lead"].queryset = (
                self.fields["team_lead"].queryset.filter(is_staff=True).order_by("username")
            )


@admin.register(SalesOwner)
class SalesOwnerAdmin(admin.ModelAdmin):
    form = SalesOwnerForm
    list_display = ["__str__", "capacity", "open_leads", "team_lead", "is_active"]
    list_filter = ["is_active"]
    inlines = [OutOfOfficeInline]

    @admin.display(description="Open leads")
    def open_leads(self, owner: SalesOwner):
        from leads.services.routing import sales_owner_open_leads

        return sales_owner_open_leads(owner=owner)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "priority", "strategy", "countries", "segment", "is_active"]
    list_editable = ["priority", "is_active"]
    list_filter = ["strategy", "is_active"]
    filter_horizontal = ["members"]
    readonly_fields = ["turns"]
