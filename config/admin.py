import re
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models

from config.models import AuditLogEntry
from config.money import (
    MoneyInputError,
    money_decimals,
    money_format,
    money_major_from_minor,
    money_minor_from_major,
)

# Integer columns that hold money in the row's `currency` (minor units).
MONEY_FIELD = re.compile(r"^(amount(_\w+)?|\w+_amount|subtotal|tax|net|total|balance)$")


def money_field_names(model) -> list[str]:
    names = {f.name for f in model._meta.concrete_fields}
    if "currency" not in names:
        return []
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.IntegerField) and not f.is_relation and MONEY_FIELD.match(f.name)
    ]


def money_display(name: str, label: str):
    """An admin column or read-only field showing `name` formatted in the row's currency."""

    def display(obj):
        value = getattr(obj, name)
        return "—" if value is None else money_format(value, obj.currency)

    display.short_description = label[:1].upper() + label[1:]
    display.admin_order_field = name
    return display


class MoneyAdminMixin:
    """Amounts read as money (Babel, in the row's currency: "€249.00", "¥5,000") in change
    lists, detail pages and inlines, instead of `24900` next to `eur`. Each money column `x`
    is shown by `x_money`; the separate currency column goes from change lists."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.money_fields = money_field_names(self.model)
        for name in self.money_fields:
            label = str(self.model._meta.get_field(name).verbose_name)
            setattr(self, f"{name}_money", money_display(name, label))

    def _money_swap(self, names, readonly) -> list:
        swapped = []
        for name in names:
            if isinstance(name, (list, tuple)):
                swapped.append(type(name)(self._money_swap(name, readonly)))
                continue
            if name in self.money_fields and name in readonly:
                name = f"{name}_money"
            if name not in swapped:
                swapped.append(name)
        return swapped

    def get_list_display(self, request):
        names = list(super().get_list_display(request))
        shown = [n for n in names if n in self.money_fields]
        names = [f"{n}_money" if n in self.money_fields else n for n in names]
        return [n for n in names if n != "currency"] if shown else names

    def money_readonly(self, fields) -> list:
        """`fields` and the money displays of the money fields among them."""
        fields = list(fields)
        extra = [f"{n}_money" for n in self.money_fields if n in fields]
        return fields + [n for n in extra if n not in fields]

    def get_readonly_fields(self, request, obj=None):
        return self.money_readonly(super().get_readonly_fields(request, obj))

    def get_fieldsets(self, request, obj=None):
        readonly = set(self.get_readonly_fields(request, obj))
        return [
            (title, {**options, "fields": self._money_swap(options["fields"], readonly)})
            for title, options in super().get_fieldsets(request, obj)
        ]


class MoneyAmountField(forms.DecimalField):
    """An amount staff type in major units ("249.00" EUR, "5000" JPY, "1.250" KWD), cleaned to
    exact integer minor units with Decimal. More decimals than the currency has is an error."""

    def __init__(self, *, currency: str, **kwargs):
        self.currency = currency
        decimals = money_decimals(currency)
        kwargs.setdefault("min_value", Decimal(1).scaleb(-decimals))
        super().__init__(**kwargs)
        self.widget.attrs["step"] = str(Decimal(1).scaleb(-decimals))
        self.widget.attrs["inputmode"] = "decimal"

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return money_major_from_minor(value, self.currency)
        return super().prepare_value(value)

    def clean(self, value):
        amount = super().clean(value)
        if amount is None:
            return None
        try:
            return money_minor_from_major(amount, self.currency)
        except MoneyInputError as exc:
            raise forms.ValidationError(str(exc), code="precision") from exc


class HistoryInline(MoneyAdminMixin, admin.TabularInline):
    """Rows of a parent's history on its page (events, refunds, touchpoints): every field is
    read-only, and no row is added or deleted here. Subclasses set `model` and `fields`."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.money_readonly(self.fields)

    def has_add_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence nobody edits (audit log, consent records, touchpoints): no add, change or
    delete, for anyone, superusers included."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyFieldsAdmin(MoneyAdminMixin, admin.ModelAdmin):
    """Records that change only through services (payments, webhook events): every field is
    read-only and nothing is added or deleted here, but staff with the change permission can
    run the model's actions (replay, refund), which call those services."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.money_readonly(f.name for f in self.model._meta.fields)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_id", "action", "actor__username"]
    date_hierarchy = "created_at"


User = get_user_model()
SUPERUSER_ONLY_FIELDS = ("is_superuser", "groups", "user_permissions")


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    """Staff accounts. Only a superuser grants superuser status, groups or permissions, and
    only a superuser edits a superuser (else the password form would hand one over). Every
    change to those and to the status flags is audit logged (config/staff_audit.py)."""

    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [f for f in SUPERUSER_ONLY_FIELDS if f not in fields]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # The read-only fields are not on the form, so a forged POST cannot set them; this
        # refuses any other path that would (a subclass, a later form change).
        if not request.user.is_superuser and change:
            before = User.objects.filter(pk=obj.pk).values("is_superuser").first() or {}
            if obj.is_superuser != before.get("is_superuser", False):
                raise PermissionDenied("Only a superuser grants superuser status.")
        elif not request.user.is_superuser and obj.is_superuser:
            raise PermissionDenied("Only a superuser grants superuser status.")
        super().save_model(request, obj, form, change)
