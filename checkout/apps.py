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
        from payments import signals

        uid = "checkout.receivers.{}"
        signals.payment_succeeded.connect(
            receivers.on_payment_succeeded, dispatch_uid=uid.format("succeeded")
        )
        signals.payment_authorized.connect(
            receivers.on_payment_authorized, dispatch_uid=uid.format("authorized")
        )
        signals.payment_canceled.connect(
            receivers.on_payment_canceled, dispatch_uid=uid.format("canceled")
        )
        signals.payment_failed.connect(
            receivers.on_payment_failed, dispatch_uid=uid.format("failed")
        )
        signals.payment_refunded.connect(
            receivers.on_payment_refunded, dispatch_uid=uid.format("refunded")
        )
        signals.payment_disputed.connect(
            receivers.on_payment_disputed, dispatch_uid=uid.format("disputed")
        )
