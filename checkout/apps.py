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
        _anymail_bounces_connect()


def _anymail_bounces_connect() -> None:
    """Bounces reported through django-anymail's tracking webhooks, when it is installed."""
    try:
        from anymail.signals import tracking
    except ImportError:
        return
    from checkout.notifications.bounces import anymail_tracking_receiver

    tracking.connect(anymail_tracking_receiver, dispatch_uid="checkout.anymail_bounces")
