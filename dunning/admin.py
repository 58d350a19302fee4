"""The staff triage queue for failed payments, policies and message templates.

Every action calls a service in dunning/services/staff.py, which checks the permission and
writes the audit log; the admin only shows forms and results.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from checkout.models import Notification
from config.admin import HistoryInline, MoneyAmountField
from config.money import money_format
from config.staff import staff_works_own_rows_only
from dunning.declines import decline_classify
from dunning.models import (
    ACTIVE_STATUSES,
    DunningAttempt,
    DunningCase,
    DunningCaseEvent,
    DunningCaseNote,
    DunningMessageTemplate,
    DunningPolicy,
    DunningPolicyStep,
    PaymentLink,
)
from dunning.services import (
    ActionRefused,
    CaseClosed,
    dunning_case_assign,
    dunning_case_link_send,
    dunning_case_mark_paid,
    dunning_case_note_add,
    dunning_case_pause,
    dunning_case_policy_change,
    dunning_case_resume,
    dunning_case_retry_now,
    dunning_case_write_off,
)
from dunning.services.messages import message_context, message_render

WORK = "dunning.work_dunningcase"
SETTLE = "dunning.settle_dunningcase"


class QueueFilter(admin.SimpleListFilter):
    """Open cases by default: the queue is what still needs work."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("open", "Being worked"),
            ("callback", "Asked for a call back"),
            ("paused", "Paused"),
            ("closed", "Closed"),
            ("all", "All"),
        ]

    def choices(self, changelist):
        value = self.value() or "open"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(status__in=ACTIVE_STATUSES)
        if value == "callback":
            return queryset.filter(status__in=ACTIVE_STATUSES, callback_requested_at__isnull=False)
        if value == "paused":
            return queryset.filter(status__in=ACTIVE_STATUSES, paused_at__isnull=False)
        if value == "closed":
            return queryset.exclude(status__in=ACTIVE_STATUSES)
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        owners = (
            get_user_model()
            .objects.filter(pk__in=DunningCase.objects.values("owner"))
            .order_by("username")
        )
        return [("me", "Mine"), ("shared", "Shared Sales queue")] + [
            (str(u.pk), u.get_full_name() or u.get_username()) for u in owners
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(owner=request.user)
        if value == "shared":
            return queryset.filter(owner__isnull=True)
        if value and value.isdigit():
            return queryset.filter(owner_id=int(value))
        return queryset


class AttemptInline(HistoryInline):
    model = DunningAttempt
    fields = [
        "number", "step", "created_at", "status", "amount", "currency", "payment_method_id",
        "decline_code", "failure_code", "payment", "requested_by", "settled_at",
    ]  # fmt: skip


class EventInline(HistoryInline):
    model = DunningCaseEvent
    fields = ["created_at", "from_status", "to_status", "outcome", "cause", "actor", "detail"]


class NoteInline(HistoryInline):
    model = DunningCaseNote
    fields = ["created_at", "kind", "author", "phone", "body"]


class LinkInline(HistoryInline):
    model = PaymentLink
    fields = [
        "created_at",
        "amount",
        "expires_at",
        "used_at",
        "clicks",
        "last_clicked_at",
        "sent_in",
    ]


@admin.register(DunningCase)
class DunningCaseAdmin(admin.ModelAdmin):
    list_display = [
        "order_reference", "status_badge", "amount_at_risk", "category", "reason",
        "attempts_made", "next_action", "messages_summary", "clicks", "owner_display",
        "notes_summary", "callback_requested_at",
    ]  # fmt: skip
    list_filter = [QueueFilter, OwnerFilter, "category", "status", "cause", "order__offer"]
    search_fields = ["order__reference", "order__email", "order__name"]
    ordering = ["-amount", "pk"]
    list_select_related = ["order__offer", "owner", "policy"]
    inlines = [AttemptInline, NoteInline, LinkInline, EventInline]
    actions = ["retry_now", "send_link", "pause", "resume", "assign_to_me"]
    change_form_template = "admin/dunning/dunningcase/change_form.html"
    fieldsets = [
        (None, {"fields": ["order", "cause", "status", "amount_display", "policy", "owner"]}),
        (
            "Why it failed",
            {"fields": ["category", "decline_code", "failure_code", "explanation", "failed_at"]},
        ),
        (
            "What happens next",
            {
                "fields": [
                    "next_action",
                    "attempts_made",
                    "last_attempt_at",
                    "paused_at",
                    "pause_reason",
                    "callback_requested_at",
                ]
            },
        ),
        ("Messages", {"fields": ["messages_table"]}),
        (
            "Buyer",
            {
                "fields": [
                    "customer",
                    "language",
                    "timezone",
                    "subscription",
                    "opened_at",
                    "closed_at",
                    "recovered_at",
                    "amount_recovered_display",
                    "recovered_channel",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        per_case = {"case": OuterRef("pk")}
        clicks = PaymentLink.objects.filter(**per_case).values("case").annotate(n=Sum("clicks"))
        notes = DunningCaseNote.objects.filter(**per_case).values("case").annotate(n=Count("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                link_clicks=Subquery(clicks.values("n")),
                note_count=Subquery(notes.values("n")),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in DunningCase._meta.fields]
        return [*names, "amount_display", "explanation", "next_action", "messages_table",
                "amount_recovered_display"]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Read-only: every change is an action below, a service that checks and audits it.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # The columns of the queue.

    @admin.display(description="Order", ordering="order__reference")
    def order_reference(self, case):
        return format_html("{}<br><small>{}</small>", case.order.reference, case.order.offer.name)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, case):
        paused = " (paused)" if case.paused_at else ""
        return f"{case.get_status_display()}{paused}"

    @admin.display(description="At risk", ordering="amount")
    def amount_at_risk(self, case):
        return money_format(case.amount, case.currency)

    @admin.display(description="Amount at risk")
    def amount_display(self, case):
        return money_format(case.amount, case.currency)

    @admin.display(description="Recovered")
    def amount_recovered_display(self, case):
        return money_format(case.amount_recovered, case.currency)

    @admin.display(description="Reason")
    def reason(self, case):
        rule = decline_classify(decline_code=case.decline_code, failure_code=case.failure_code)
        return format_html("<code>{}</code> {}", rule.code, rule.staff)

    @admin.display(description="What the buyer is told")
    def explanation(self, case):
        rule = decline_classify(decline_code=case.decline_code, failure_code=case.failure_code)
        words = rule.for_language(case.language)
        return format_html(
            "{} {}<br><strong>Next step:</strong> {}",
            words.what_happened,
            words.what_to_do,
            rule.next_step_label,
        )

    @admin.display(description="Next action", ordering="next_action_at")
    def next_action(self, case):
        if case.is_closed:
            return "—"
        if case.paused_at:
            return format_html("Paused: {}", case.pause_reason)
        steps = list(case.policy.steps.order_by("position"))
        if case.next_step >= len(steps):
            return "Waiting for staff"
        step = steps[case.next_step]
        when = (
            timezone.localtime(case.next_action_at).strftime("%d %b %H:%M")
            if case.next_action_at
            else "—"
        )
        return f"{step.get_action_display()} · {when}"

    def _notifications(self, case):
        return Notification.objects.filter(order_id=case.order_id).order_by("created_at")

    @admin.display(description="Messages")
    def messages_summary(self, case):
        rows = list(self._notifications(case).values_list("status", flat=True))
        if not rows:
            return "—"
        failed = rows.count(Notification.Status.FAILED)
        text = f"{len(rows)} ({rows.count(Notification.Status.SENT)} sent"
        return f"{text}, {failed} failed)" if failed else f"{text})"

    @admin.display(description="Messages to the buyer")
    def messages_table(self, case):
        rows = self._notifications(case)
        if not rows.exists():
            return "No messages yet."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(n.created_at).strftime("%d %b %H:%M"),
                    n.get_channel_display(),
                    n.get_kind_display(),
                    n.subject or n.template,
                    n.get_status_display(),
                    n.last_error or "",
                )
                for n in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Channel</th><th>Kind</th><th>Subject</th>"
            "<th>Status</th><th>Problem (bounce or failure)</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            body,
        )

    @admin.display(description="Link clicks", ordering="link_clicks")
    def clicks(self, case):
        return getattr(case, "link_clicks", None) or 0

    @admin.display(description="Notes", ordering="note_count")
    def notes_summary(self, case):
        count = getattr(case, "note_count", None) or 0
        latest = case.notes.first() if count else None
        if latest is None:
            return "—"
        return format_html("{} · <small>{}</small>", count, latest.body[:60] or latest.phone)

    @admin.display(description="Owner", ordering="owner__username")
    def owner_display(self, case):
        return case.owner.get_username() if case.owner else "Shared Sales queue"

    # Bulk actions on the queue.

    def _bulk(self, request, queryset, label, run) -> None:
        for case in queryset:
            try:
                run(case)
            except (ActionRefused, CaseClosed, PermissionDenied) as exc:
                self.message_user(request, f"{case.order.reference}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"{case.order.reference}: {label}.", messages.SUCCESS)

    def has_work_permission(self, request):
        return request.user.has_perm(WORK)

    @admin.action(description="Retry now (refuses hard declines)", permissions=["work"])
    def retry_now(self, request, queryset):
        def run(case):
            attempt = dunning_case_retry_now(case_id=case.pk, actor=request.user)
            if attempt.status == DunningAttempt.Status.SUCCEEDED:
                return
            raise ActionRefused(f"retried: {attempt.get_status_display().lower()}")

        self._bulk(request, queryset, "paid on retry", run)

    @admin.action(description="Send a fresh payment link", permissions=["work"])
    def send_link(self, request, queryset):
        self._bulk(
            request,
            queryset,
            "link sent",
            lambda case: dunning_case_link_send(case_id=case.pk, actor=request.user),
        )

    @admin.action(description="Pause", permissions=["work"])
    def pause(self, request, queryset):
        self._bulk(
            request,
            queryset,
            "paused",
            lambda case: dunning_case_pause(case_id=case.pk, actor=request.user),
        )

    @admin.action(description="Resume", permissions=["work"])
    def resume(self, request, queryset):
        self._bulk(
            request,
            queryset,
            "resumed",
            lambda case: dunning_case_resume(case_id=case.pk, actor=request.user),
        )

    @admin.action(description="Assign to me", permissions=["work"])
    def assign_to_me(self, request, queryset):
        self._bulk(
            request,
            queryset,
            "assigned to you",
            lambda case: dunning_case_assign(
                case_id=case.pk, owner=request.user, actor=request.user
            ),
        )

    # One case's actions with a form (the buttons on its page).

    def get_urls(self):
        return [
            path(
                "<int:case_id>/act/<str:action>/",
                self.admin_site.admin_view(self.action_view),
                name="dunning_dunningcase_act",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        workable = (
            str(object_id).isdigit()
            and self.workable_cases(request, DunningCase.objects.filter(pk=object_id)).exists()
        )
        extra_context = {
            **(extra_context or {}),
            # A colleague's case is read-only to Sales: no buttons that would answer 403.
            "case_actions": [
                (name, label)
                for name, (label, permission, _form) in CASE_ACTIONS.items()
                if workable and request.user.has_perm(permission)
            ],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def workable_cases(self, request, queryset):
        """Sales work their own cases and the shared Sales queue; others read them."""
        if staff_works_own_rows_only(request.user):
            return queryset.filter(Q(owner=request.user) | Q(owner__isnull=True))
        return queryset

    def response_action(self, request, queryset):
        return super().response_action(request, self.workable_cases(request, queryset))

    def action_view(self, request, case_id: int, action: str):
        if action not in CASE_ACTIONS:
            raise PermissionDenied
        label, permission, form_class = CASE_ACTIONS[action]
        if not request.user.has_perm(permission):
            raise PermissionDenied
        case = get_object_or_404(DunningCase.objects.select_related("order"), pk=case_id)
        if not self.workable_cases(request, DunningCase.objects.filter(pk=case.pk)).exists():
            raise PermissionDenied
        form = form_class(request.POST if request.method == "POST" else None, case=case)
        if request.method == "POST" and form.is_valid():
            try:
                result = form.run(actor=request.user)
            except (ActionRefused, CaseClosed) as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"{label}: {result}", messages.SUCCESS)
                return redirect("admin:dunning_dunningcase_change", case.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{label} · {case.order.reference}",
            "case": case,
            "form": form,
            "label": label,
        }
        return TemplateResponse(request, "admin/dunning/dunningcase/action.html", context)


class _CaseForm(forms.Form):
    def __init__(self, *args, case: DunningCase, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case


class RetryNowForm(_CaseForm):
    def run(self, *, actor) -> str:
        attempt = dunning_case_retry_now(case_id=self.case.pk, actor=actor)
        return f"attempt {attempt.number}: {attempt.get_status_display().lower()}"


class SendLinkForm(_CaseForm):
    def run(self, *, actor) -> str:
        dunning_case_link_send(case_id=self.case.pk, actor=actor)
        return "a fresh link was emailed to the buyer"


class PauseForm(_CaseForm):
    reason = forms.CharField(max_length=200, required=False)

    def run(self, *, actor) -> str:
        dunning_case_pause(case_id=self.case.pk, actor=actor, reason=self.cleaned_data["reason"])
        return "paused"


class ResumeForm(_CaseForm):
    def run(self, *, actor) -> str:
        dunning_case_resume(case_id=self.case.pk, actor=actor)
        return "resumed"


class PolicyForm(_CaseForm):
    policy = forms.ModelChoiceField(queryset=DunningPolicy.objects.all())

    def run(self, *, actor) -> str:
        policy = self.cleaned_data["policy"]
        dunning_case_policy_change(case_id=self.case.pk, policy_id=policy.pk, actor=actor)
        return f"now follows {policy}"


class AssignForm(_CaseForm):
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_staff=True, is_active=True),
        required=False,
        help_text="Empty: back to the shared Sales queue.",
    )

    def run(self, *, actor) -> str:
        owner = self.cleaned_data["owner"]
        dunning_case_assign(case_id=self.case.pk, owner=owner, actor=actor)
        return f"assigned to {owner}" if owner else "back in the shared Sales queue"


class NoteForm(_CaseForm):
    body = forms.CharField(widget=forms.Textarea, label="Note")

    def run(self, *, actor) -> str:
        dunning_case_note_add(case_id=self.case.pk, actor=actor, body=self.cleaned_data["body"])
        return "note added"


class MarkPaidForm(_CaseForm):
    reference = forms.CharField(max_length=200, help_text="The bank transfer's reference.")

    def __init__(self, *args, case: DunningCase, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        code = case.currency.upper()
        # Typed as on the bank statement, in the currency's own decimals (EUR 12.50, JPY 5000).
        self.fields["amount"] = MoneyAmountField(
            currency=case.currency,
            required=False,
            label=f"Amount received ({code})",
            help_text=f"In {code}, as on the bank statement. Empty: everything still owed "
            f"({money_format(case.amount - case.amount_recovered, case.currency)}).",
        )

    def run(self, *, actor) -> str:
        case = dunning_case_mark_paid(
            case_id=self.case.pk,
            actor=actor,
            reference=self.cleaned_data["reference"],
            amount=self.cleaned_data["amount"],
        )
        return f"recorded; the case is {case.get_status_display().lower()}"


class WriteOffForm(_CaseForm):
    reason = forms.CharField(widget=forms.Textarea, help_text="Why we stop collecting.")

    def run(self, *, actor) -> str:
        dunning_case_write_off(
            case_id=self.case.pk, actor=actor, reason=self.cleaned_data["reason"]
        )
        return "written off"


CASE_ACTIONS: dict[str, tuple[str, str, type[_CaseForm]]] = {
    "retry": ("Retry now", WORK, RetryNowForm),
    "link": ("Send a fresh link", WORK, SendLinkForm),
    "pause": ("Pause", WORK, PauseForm),
    "resume": ("Resume", WORK, ResumeForm),
    "policy": ("Change the policy", WORK, PolicyForm),
    "assign": ("Assign", WORK, AssignForm),
    "note": ("Add a note", WORK, NoteForm),
    "mark_paid": ("Mark paid by bank transfer", SETTLE, MarkPaidForm),
    "write_off": ("Write off", SETTLE, WriteOffForm),
}


class PolicyStepInline(admin.TabularInline):
    model = DunningPolicyStep
    extra = 0
    fields = ["position", "offset", "action", "template"]
    ordering = ["position"]


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "offer", "is_default", "is_active", "max_retries", "window_days"]
    list_filter = ["is_active"]
    inlines = [PolicyStepInline]
    fieldsets = [
        (None, {"fields": ["name", "offer", "is_default", "is_active"]}),
        ("Limits", {"fields": ["max_retries", "unknown_code_max_retries", "window_days"]}),
        (
            "Hours (in the buyer's timezone)",
            {
                "fields": [
                    "quiet_hours_start",
                    "quiet_hours_end",
                    "maintenance_start",
                    "maintenance_end",
                ]
            },
        ),
        ("Payday (insufficient funds)", {"fields": ["payday_mode", "payday_days_later"]}),
        ("Deposits", {"fields": ["deposit_reminder_days"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        return False


class _SampleOffer:
    name = "Masterclass"


class _SampleOrder:
    """What a preview renders: a made-up order, never a real buyer's."""

    name = "Ada Lovelace"
    email = "ada@example.com"
    reference = "CO-PREVIEW"
    currency = "eur"
    offer = _SampleOffer()


def template_preview(template: DunningMessageTemplate) -> tuple[str, str, str, str]:
    from datetime import timedelta

    from dunning.declines import DECLINE_TABLE

    words = DECLINE_TABLE["insufficient_funds"].for_language(template.language)
    context = message_context(
        order=_SampleOrder(),
        language=template.language,
        tz_name="Europe/Berlin",
        amount=12_000,
        currency="eur",
        what_happened=words.what_happened,
        what_to_do=words.what_to_do,
        pay_url="https://example.com/pay/preview-token/",
        link_expires=timezone.now() + timedelta(days=14),
        due_date=timezone.now() + timedelta(days=3),
        portal_url="https://example.com/account/preview-token/",
        card_last4="4242",
        card_expiry="12/2027",
    )
    return message_render(template=template, context=context)


@admin.register(DunningMessageTemplate)
class DunningMessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["key", "language", "subject", "updated_at"]
    list_filter = ["key", "language"]
    readonly_fields = ["preview"]
    fields = ["key", "language", "subject", "body_text", "body_html", "sms_text", "preview"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Preview (a made-up order)")
    def preview(self, template):
        if template is None or not template.pk:
            return "Save to see a preview."
        try:
            subject, text, _html, sms = template_preview(template)
        except Exception as exc:  # a template with a syntax error: say so, do not crash
            return format_html("<strong>The template does not render:</strong> {}", exc)
        url = reverse("admin:dunning_dunningmessagetemplate_preview", args=[template.pk])
        return format_html(
            "<p><strong>Subject:</strong> {}</p><pre>{}</pre>{}<p><a href='{}' target='_blank' "
            "rel='noopener'>Open the HTML email</a></p>",
            subject,
            text,
            format_html("<p><strong>Text message:</strong> {}</p>", sms) if sms else "",
            url,
        )

    def get_urls(self):
        return [
            path(
                "<int:template_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="dunning_dunningmessagetemplate_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request, template_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        template = get_object_or_404(DunningMessageTemplate, pk=template_id)
        _subject, _text, html, _sms = template_preview(template)
        response = HttpResponse(html)
        # An email styles itself inline: this one page (staff only, no script, sandboxed)
        # allows that, and nothing else.
        response["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
        )
        return response
