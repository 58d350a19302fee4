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
