from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the Stripe event handlers into payments.webhooks.HANDLERS.
        from payments import handlers  # noqa: F401
