from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "checkout"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkout import receivers
        from checkout.admin_leads import send_checkout_link
        from leads.admin import LeadAdmin

        if send_checkout_link not in LeadAdmin.actions:
            LeadAdmin.actions.append(send_checkout_link)
        receivers.connect()
