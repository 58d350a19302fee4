"""The lead list and page: every change goes through a service."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from config.staff import staff_works_own_rows_only
from leads.admin.displays import LeadDisplays
from leads.admin.lead_forms import (
    AssignmentInline,
    ConsentListFilter,
    LeadActionForm,
    LeadChangeForm,
    SlaEventInline,
    TouchpointInline,
)
from leads.models import Lead, LeadStatus
from leads.normalise import LeadInputError
from leads.selectors import leads_sla_at_risk, sales_users
from leads.services import (
    AssignmentRefused,
    LeadStatusRefused,
    lead_assign,
    lead_erase,
    lead_first_contact_log,
    lead_status_change,
    lead_submitted_details_accept,
    lead_submitted_details_dismiss,
    lead_update,
)


class MyWorkFilter(admin.SimpleListFilter):
    """The staff home's link: my leads breaching or near their first-response SLA."""

    title = "my work"
    parameter_name = "work"

    def lookups(self, request, model_admin):
        return [("my_sla", "My leads breaching or near their SLA")]

    def queryset(self, request, queryset):
        if self.value() == "my_sla":
            within = timedelta(minutes=settings.STAFF_HOME_SLA_WARNING_MINUTES)
            return queryset.filter(
                pk__in=leads_sla_at_risk(owner=request.user, within=within).values("pk")
            )
        return queryset


@admin.register(Lead)
class LeadAdmin(LeadDisplays, admin.ModelAdmin):
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
    ]
    list_display_links = ["email", "name"]
    list_filter = [
        MyWorkFilter,
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
        "submitted_details_display",
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
            {
                "fields": [
                    "first_touch_display",
                    "last_touch_display",
                    "submissions",
                    "submitted_details_display",
                ]
            },
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
        "accept_submitted_details",
        "dismiss_submitted_details",
        "erase_personal_data",
    ]

    class Media:
        css = {"all": ["css/leads_admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")

    def has_change_permission(self, request, obj=None):
        # Sales read every lead and work their own and the unassigned ones (triage): a
        # colleague's lead opens read-only.
        if not super().has_change_permission(request, obj):
            return False
        if obj is not None and staff_works_own_rows_only(request.user):
            return obj.owner_id in (None, request.user.pk)
        return True

    def response_action(self, request, queryset):
        # A bulk action by a Sales member touches only the leads they may work.
        if staff_works_own_rows_only(request.user):
            queryset = queryset.filter(Q(owner=request.user) | Q(owner__isnull=True))
        return super().response_action(request, queryset)

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
        description="Accept submitted details (a later submission's name, company, phone)",
        permissions=["change"],
    )
    def accept_submitted_details(self, request, queryset):
        done = 0
        for lead in queryset.exclude(submitted_details={}):
            try:
                lead_submitted_details_accept(lead=lead, actor=request.user)
                done += 1
            except LeadInputError as exc:
                self.message_user(request, f"{lead}: {exc}", messages.WARNING)
        self.message_user(request, f"Submitted details accepted on {done} lead(s).")

    @admin.action(description="Dismiss submitted details (keep ours)", permissions=["change"])
    def dismiss_submitted_details(self, request, queryset):
        leads = list(queryset.exclude(submitted_details={}))
        for lead in leads:
            lead_submitted_details_dismiss(lead=lead, actor=request.user)
        self.message_user(request, f"Submitted details dismissed on {len(leads)} lead(s).")

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
