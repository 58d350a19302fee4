"""Offers (with their tax rates), orders and holds in the admin. Actions call services."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import models

from checkout.models import (
    Entitlement,
    EntitlementEvent,
    Offer,
    Order,
    OrderEvent,
    Subscription,
    TaxRate,
)
from checkout.selectors import order_hold
from checkout.services.holds import (
    PaymentNotHeld,
    order_hold_capture,
    order_hold_release,
)
from checkout.services.pricing import OfferAmountsInvalid, offer_amounts_validate
from checkout.templatetags.money import money
from config.admin import HistoryInline, MoneyAdminMixin
from config.money import MoneyInputError, money_major_from_minor, money_minor_from_major
from payments.models import Payment
from payments.selectors import payment_holds_lapsing


class TaxRateInline(admin.TabularInline):
    model = TaxRate
    extra = 0
    fields = ["country", "rate_bp", "label"]


_AMOUNT_FIELDS = {"price_amount", "currency", "billing_type", "deposit_amount"}
_MAJOR_UNIT_FIELDS = ("price_amount", "deposit_amount")


class OfferAdminForm(forms.ModelForm):
    """The admin builds the Meta from OfferAdmin's fieldsets. Prices are typed in major units
    of the offer's currency (100.00 USD, 5000 JPY) and stored exactly in minor units."""

    price_amount = forms.DecimalField(
        label="Price", help_text="In the offer's currency, for example 249.00 (EUR) or 5000 (JPY)."
    )
    deposit_amount = forms.DecimalField(
        label="Deposit",
        required=False,
        help_text="Deposit offers only: paid at checkout, in the offer's currency.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk and instance.currency:
            for name in _MAJOR_UNIT_FIELDS:
                value = getattr(instance, name)
                if value is not None:
                    self.initial[name] = money_major_from_minor(value, instance.currency)

    def clean(self):
        # The pricing service is the one judge of what a card can be charged; show its verdict
        # on the fields, so an offer no card could pay is never saved.
        cleaned = super().clean()
        if not cleaned.get("currency"):
            return cleaned  # the field's own "required" error says it
        for name in _MAJOR_UNIT_FIELDS:
            if cleaned.get(name) is None:
                continue
            try:
                cleaned[name] = money_minor_from_major(cleaned[name], cleaned["currency"])
            except MoneyInputError as exc:
                self.add_error(name, str(exc))
        if self.errors:
            return cleaned
        if self.instance.pk and not set(self.changed_data) & _AMOUNT_FIELDS:
            # An offer saved before a rule tightened can still be edited (renamed, retired);
            # its amounts are judged when they change.
            return cleaned
        try:
            offer_amounts_validate(
                price_amount=cleaned.get("price_amount"),
                currency=cleaned["currency"],
                billing_type=cleaned.get("billing_type") or "",
                deposit_amount=cleaned.get("deposit_amount"),
            )
        except OfferAmountsInvalid as exc:
            for field, field_messages in exc.errors.items():
                for message in field_messages:
                    self.add_error(field, message)
        return cleaned


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    form = OfferAdminForm
    # An access URL typed without a scheme is read as https (Django 6's default; 5.2 warns).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "slug", "price", "billing_type", "tax_mode", "is_active"]
    list_filter = ["billing_type", "is_active", "currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TaxRateInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "is_active"]}),
        (
            "Price (in the currency's own units: 249.00 EUR, 5000 JPY)",
            {"fields": ["price_amount", "currency", "tax_mode"]},
        ),
        (
            "Billing",
            {
                "fields": [
                    "billing_type",
                    "deposit_amount",
                    "balance_due_days",
                    "interval",
                    "renewal_terms",
                    "cancellation_terms",
                    "accepts_card",
                    "accepts_bank_transfer",
                ]
            },
        ),
        ("Access granted", {"fields": ["access_name", "access_url", "access_instructions"]}),
    ]

    @admin.display(description="Price")
    def price(self, offer):
        return money(offer.price_amount, offer.currency)


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["country", "rate_bp", "label", "offer"]
    list_filter = ["country"]
    list_select_related = ["offer"]


class OrderEventInline(HistoryInline):
    model = OrderEvent
    fields = ["created_at", "from_status", "to_status", "cause", "actor", "detail"]


class PaymentInline(HistoryInline):
    model = Payment
    fields = [
        "created_at", "stripe_payment_intent_id", "amount", "currency", "capture_method",
        "status", "failure_code", "risk_level", "risk_score",
    ]  # fmt: skip


class HoldFilter(admin.SimpleListFilter):
    title = "card hold"
    parameter_name = "hold"

    def lookups(self, request, model_admin):
        return [("lapsing", "About to lapse")]

    def queryset(self, request, queryset):
        if self.value() == "lapsing":
            within = timedelta(hours=settings.STAFF_HOME_HOLD_WARNING_HOURS)
            return queryset.filter(pk__in=payment_holds_lapsing(within=within).values("order_id"))
        return queryset


@admin.register(Order)
class OrderAdmin(MoneyAdminMixin, admin.ModelAdmin):
    list_display = [
        "reference", "offer", "email", "status", "total_display", "balance_display",
        "hold_status",
    ]  # fmt: skip
    # Fits 1280 pixels: "needs review" is a filter, and when an order was made is the date
    # filter above the list; both are on the order's page.
    date_hierarchy = "created_at"
    list_filter = ["status", "needs_review", HoldFilter, "offer__billing_type", "offer"]
    search_fields = ["reference", "email", "name"]
    list_select_related = ["offer"]
    readonly_fields = [f.name for f in Order._meta.fields if f.name not in ("needs_review",)]
    inlines = [PaymentInline, OrderEventInline]
    actions = ["capture_hold", "release_hold"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Total")
    def total_display(self, order):
        return money(order.total, order.currency)

    @admin.display(description="Balance")
    def balance_display(self, order):
        return money(order.balance, order.currency)

    @admin.display(description="Hold")
    def hold_status(self, order):
        hold = order_hold(order)
        return hold.get_status_display() if hold else "—"

    @admin.action(description="Capture hold", permissions=["change"])
    def capture_hold(self, request, queryset):
        for order in queryset:
            try:
                outcome = order_hold_capture(order=order, actor=request.user)
            except PaymentNotHeld as exc:
                self.message_user(request, f"{order}: {exc}", messages.WARNING)
                continue
            if not outcome.answered:
                self.message_user(request, f"{order}: {_UNANSWERED}", messages.WARNING)
                continue
            payment = outcome.payment
            self.message_user(
                request,
                f"{order}: captured {money(payment.amount_received, payment.currency)}.",
                messages.SUCCESS,
            )

    @admin.action(description="Release hold", permissions=["change"])
    def release_hold(self, request, queryset):
        for order in queryset:
            try:
                outcome = order_hold_release(order=order, actor=request.user)
            except PaymentNotHeld as exc:
                self.message_user(request, f"{order}: {exc}", messages.WARNING)
                continue
            if not outcome.answered:
                self.message_user(
                    request,
                    f"{order}: {_UNANSWERED} If Stripe released the hold, the order is canceled "
                    "when its notification arrives.",
                    messages.WARNING,
                )
                continue
            self.message_user(
                request,
                f"{order}: hold released; the order is "
                f"{outcome.order.get_status_display().lower()}.",
                messages.SUCCESS,
            )


_UNANSWERED = (
    "Stripe did not answer in time, so we do not know yet whether it acted. The payment shows "
    "as unknown until Stripe's notification or the next reconciliation settles it; if it shows "
    "as authorised again, try again."
)


class EntitlementEventInline(HistoryInline):
    model = EntitlementEvent
    fields = ["created_at", "from_status", "to_status", "cause", "payment", "actor", "detail"]


@admin.register(Entitlement)
class EntitlementAdmin(admin.ModelAdmin):
    list_display = ["order", "access_name", "status", "granted_at"]
    list_filter = ["status"]
    search_fields = ["order__reference", "order__email", "access_code"]
    readonly_fields = ["order", "access_code", "granted_at", "granted_by_payment"]
    # Why access was granted, suspended (a dispute, a lapsed hold), restored or revoked.
    inlines = [EntitlementEventInline]


@admin.register(Subscription)
class SubscriptionAdmin(MoneyAdminMixin, admin.ModelAdmin):
    list_display = ["order", "interval", "amount", "currency", "status", "next_charge_at"]
    list_filter = ["status", "interval"]
    readonly_fields = ["order", "customer", "current_period_start", "created_at"]


from checkout import admin_notifications  # noqa: E402, F401  (registers the message log)

# Payment CSAT (issue 16): kept at the end, with its own import, so it merges cleanly.
from checkout.models import PaymentCsat  # noqa: E402


@admin.register(PaymentCsat)
class PaymentCsatAdmin(admin.ModelAdmin):
    """The buyers' answers to "How easy was paying?": read-only (an answer is the buyer's)."""

    list_display = ["answered_at", "order", "score", "short_comment", "source"]
    list_filter = ["score", "source", "answered_at"]
    search_fields = ["order__reference", "order__email", "comment"]
    date_hierarchy = "answered_at"
    list_select_related = ["order"]
    readonly_fields = ["order", "score", "comment", "source", "answered_at"]

    @admin.display(description="comment")
    def short_comment(self, obj: PaymentCsat) -> str:
        return obj.comment if len(obj.comment) <= 80 else obj.comment[:79] + "…"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
