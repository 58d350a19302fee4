from django.db import models


class FinanceReport(models.Model):
    """No table: the holder of reporting's permissions (the dashboard and the exports).

    Reporting writes nothing but exports, so it has no rows of its own; its permissions still
    need a model to hang on, and `managed = False` keeps Django from creating a table for it.
    """

    class Meta:
        managed = False
        verbose_name = "finance dashboard"
        verbose_name_plural = "finance dashboard"
        default_permissions = ()
        permissions = [
            ("view_finance_dashboard", "Can see the finance dashboard"),
            ("export_finance_data", "Can export payments, receipts, refunds, leads and cases"),
            ("export_own_leads", "Can export the leads they own"),
        ]

    def __str__(self) -> str:
        return "Finance dashboard"


# The daily rollups (reporting/rollup.py). Each row is the aggregate of one local day's source
# rows (in the portal's time zone), rebuilt from those rows by the rollup task; the dashboard
# reads them for closed days that RollupDay marks as built, and the source rows for the rest.


class RollupDay(models.Model):
    """A closed day whose rollup rows are built (rows of the other tables may be absent for
    a day with nothing in it: this row says that absence means zero)."""

    day = models.DateField(primary_key=True)
    built_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.day} (built {self.built_at:%Y-%m-%d %H:%M})"


class PaymentDay(models.Model):
    """Per day, currency (upper case) and offer name of the payment's order ("No offer").

    received/paid/refunded/disputed: payments that succeeded that day (a paid status now);
    attempts/paid_first_time/recovered: payments (not dunning retries) created that day that
    have ended, those paid at once, and those failed and recovered by their dunning case."""

    day = models.DateField()
    currency = models.CharField(max_length=3)
    offer = models.CharField(max_length=200)
    received = models.BigIntegerField(default=0)
    paid = models.IntegerField(default=0)
    refunded = models.IntegerField(default=0)
    disputed = models.IntegerField(default=0)
    attempts = models.IntegerField(default=0)
    paid_first_time = models.IntegerField(default=0)
    recovered = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "day", "offer"], name="payment_day_currency_day_offer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency} {self.offer}"


class LeadDay(models.Model):
    """Per day the leads were created: how many, ready now, with an order, with an order that
    has money received, and their first-response SLA states now."""

    day = models.DateField(unique=True)
    leads = models.IntegerField(default=0)
    ready = models.IntegerField(default=0)
    checkout_started = models.IntegerField(default=0)
    paid = models.IntegerField(default=0)
    sla_met = models.IntegerField(default=0)
    sla_met_late = models.IntegerField(default=0)
    sla_breached = models.IntegerField(default=0)
    sla_pending = models.IntegerField(default=0)

    def __str__(self) -> str:
        return str(self.day)


class ReceiptDay(models.Model):
    """Per day of issue and currency (upper case): receipts issued, delivered (email sent),
    failed (email failed or bounced)."""

    day = models.DateField()
    currency = models.CharField(max_length=3)
    issued = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["currency", "day"], name="receipt_day_currency_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency}"


class LeadFirstPayment(models.Model):
    """Per lead and currency (upper case): from the lead's creation to the first successful
    payment of one of its orders in that currency. `day` is the lead's creation day."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3)
    day = models.DateField()
    took = models.DurationField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "currency"], name="lead_first_payment_unique")
        ]
        indexes = [
            models.Index(
                fields=["currency", "day"], include=["took"], name="lead_first_payment_range"
            )
        ]

    def __str__(self) -> str:
        return f"lead {self.lead_id} {self.currency} {self.took}"
