from django.apps import AppConfig


class ReceiptsConfig(AppConfig):
    name = "receipts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from receipts import receivers
        from receipts.admin_leads import lead_admin_extend

        receivers.connect()
        lead_admin_extend()
