"""Finance's admin: the inbox and its dead letters, payments and refunds, disputes and
discrepancies. Every action calls a service, and every money action is audit logged."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from config.admin import HistoryInline, MoneyAdminMixin, MoneyAmountField, ReadOnlyFieldsAdmin
from config.money import money_format
from payments.models import (
    DeadLetterEvent,
    Discrepancy,
    Dispute,
    Payment,
    PaymentEvent,
    Refund,
    WebhookEvent,
)
from payments.selectors import payment_refundable_amount
from payments.services.inbox import webhook_event_replay
from payments.services.reconciliation import (
    DiscrepancyNotResolvable,
    discrepancy_assign,
    discrepancy_resolve,
)
from payments.services.refunds import RefundFailed, RefundNotAllowed, payment_refund


@admin.action(description="Replay the selected events", permissions=["change"])
def replay_events(modeladmin, request, queryset):
    replayed = 0
    for event_id in queryset.values_list("pk", flat=True):
        webhook_event_replay(event_id=event_id, actor=request.user)
        replayed += 1
    modeladmin.message_user(request, f"{replayed} event(s) queued to be processed again.")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyFieldsAdmin):
    # Fits 1280 pixels: the object id is searchable, the version mismatch is a filter, and both
    # and the next attempt are on the event's page.
    list_display = ["received_at", "type", "stripe_event_id", "status", "unmatched", "attempts"]
    list_filter = ["status", "unmatched", "api_version_mismatch", "type"]
    search_fields = ["stripe_event_id", "object_id"]
    actions = [replay_events]

    def get_readonly_fields(self, request, obj=None):
        fields = [f for f in super().get_readonly_fields(request, obj) if f != "body"]
        return [*fields, "body_as_received"]

    @admin.display(description="body as received")
    def body_as_received(self, obj):
        # NUL and undecodable bytes are shown escaped; the stored bytes are what Stripe signed.
        text = bytes(obj.body).decode("utf-8", errors="backslashreplace")
        return format_html("<pre>{}</pre>", text.replace("\x00", "\\x00"))


@admin.register(DeadLetterEvent)
class DeadLetterEventAdmin(WebhookEventAdmin):
    list_display = ["received_at", "type", "stripe_event_id", "attempts", "last_error"]
    list_filter = ["type"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=WebhookEvent.Status.DEAD)


class PaymentEventInline(HistoryInline):
    model = PaymentEvent
    fields = ["created_at", "from_status", "to_status", "outcome", "cause", "stripe_event_id"]


class RefundInline(HistoryInline):
    model = Refund
    fields = ["created_at", "amount", "currency", "status", "reason", "requested_by"]


class RefundForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        help_text="Kept on our side and in the audit log.",
    )
    request_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, refundable: int, **kwargs):
        super().__init__(*args, **kwargs)
        code = payment.currency.upper()
        amount = MoneyAmountField(
            currency=payment.currency,
            required=False,
            label=f"Amount ({code})",
            help_text=f"In {code}, for example a part of the price. Leave empty to refund "
            f"everything that is left ({money_format(refundable, payment.currency)}).",
        )
        # The amount first, as staff read the form.
        self.fields = {"amount": amount, **self.fields}


@admin.register(Payment)
class PaymentAdmin(ReadOnlyFieldsAdmin):
    list_display = [
        "created_at", "stripe_payment_intent_id", "order", "amount", "currency", "status",
        "amount_refunded", "attempt_kind",
    ]  # fmt: skip
    list_filter = ["status", "attempt_kind", "currency"]
    search_fields = ["stripe_payment_intent_id", "stripe_charge_id", "customer__email"]
    inlines = [PaymentEventInline, RefundInline]

    def get_readonly_fields(self, request, obj=None):
        return ["refund_link", *super().get_readonly_fields(request, obj)]

    @admin.display(description="Refund")
    def refund_link(self, obj):
        if obj is None or payment_refundable_amount(payment=obj) <= 0:
            return "Nothing to refund"
        url = reverse("admin:payments_payment_refund", args=[obj.pk])
        return format_html('<a class="button" href="{}">Refund this payment</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:payment_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, payment_id: int):
        if not request.user.has_perm("payments.add_refund"):
            raise PermissionDenied
        payment = get_object_or_404(Payment, pk=payment_id)
        refundable = payment_refundable_amount(payment=payment)
        if request.method == "POST":
            form = RefundForm(request.POST, payment=payment, refundable=refundable)
            amount = form.cleaned_data.get("amount") if form.is_valid() else None
            if amount is not None and amount > refundable:
                form.add_error(
                    "amount",
                    f"At most {money_format(refundable, payment.currency)} is left to refund.",
                )
            if form.is_valid():
                try:
                    refund = payment_refund(
                        payment_id=payment.pk,
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                        request_key=form.cleaned_data["request_key"],
                    )
                except (RefundNotAllowed, RefundFailed) as exc:
                    form.add_error(None, str(exc))
                else:
                    self.message_user(
                        request,
                        f"Refund of {money_format(refund.amount, refund.currency)} "
                        f"is {refund.status}.",
                        messages.SUCCESS,
                    )
                    return redirect("admin:payments_payment_change", payment.pk)
        else:
            form = RefundForm(
                initial={"request_key": uuid.uuid4().hex}, payment=payment, refundable=refundable
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Refund {payment}",
            "payment": payment,
            "refundable": refundable,
            "paid_display": money_format(
                payment.amount_received or payment.amount, payment.currency
            ),
            "refunded_display": money_format(payment.amount_refunded, payment.currency),
            "refundable_display": money_format(refundable, payment.currency),
            "form": form,
        }
        return TemplateResponse(request, "payments/admin/refund.html", context)


@admin.register(Refund)
class RefundAdmin(ReadOnlyFieldsAdmin):
    list_display = ["created_at", "payment", "amount", "currency", "status", "requested_by"]
    list_filter = ["status"]
    search_fields = ["stripe_refund_id", "payment__stripe_payment_intent_id"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyFieldsAdmin):
    list_display = ["opened_at", "stripe_dispute_id", "payment", "amount", "currency", "status"]
    list_filter = ["status", "reason"]
    search_fields = ["stripe_dispute_id", "payment__stripe_payment_intent_id"]


class DiscrepancyForm(forms.ModelForm):
    mark_resolved = forms.BooleanField(
        required=False, help_text="Tick once it is sorted out; the note says what was done."
    )

    class Meta:
        model = Discrepancy
        fields = ["owner", "resolution_note"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("mark_resolved") and not (cleaned.get("resolution_note") or "").strip():
            self.add_error("resolution_note", "Write what was done before marking it resolved.")
        return cleaned


@admin.action(description="Assign the selected discrepancies to me", permissions=["change"])
def assign_to_me(modeladmin, request, queryset):
    for discrepancy_id in queryset.values_list("pk", flat=True):
        discrepancy_assign(discrepancy_id=discrepancy_id, owner=request.user, actor=request.user)
    modeladmin.message_user(request, "Assigned to you.")


@admin.register(Discrepancy)
class DiscrepancyAdmin(MoneyAdminMixin, admin.ModelAdmin):
    form = DiscrepancyForm
    list_display = [
        "detected_at", "kind", "order", "payment", "amount", "currency", "status", "owner",
        "resolved_at",
    ]  # fmt: skip
    list_filter = ["status", "kind", "owner"]
    search_fields = ["payment__stripe_payment_intent_id", "order__reference"]
    actions = [assign_to_me]
    readonly_fields = [
        "kind", "order", "payment", "amount", "currency", "status", "detail", "detected_at",
        "resolved_at",
    ]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the services, so every change is locked and audit logged.
        if "owner" in form.changed_data:
            discrepancy_assign(discrepancy_id=obj.pk, owner=obj.owner, actor=request.user)
        if form.cleaned_data.get("mark_resolved"):
            try:
                discrepancy_resolve(
                    discrepancy_id=obj.pk, note=obj.resolution_note, actor=request.user
                )
            except DiscrepancyNotResolvable as exc:
                self.message_user(request, str(exc), messages.ERROR)
        elif "resolution_note" in form.changed_data:
            Discrepancy.objects.filter(pk=obj.pk).update(resolution_note=obj.resolution_note)
