from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
    # The same endpoint as typed without the slash in the Stripe Dashboard. It must resolve
    # here: otherwise CommonMiddleware's APPEND_SLASH answers 301, which Stripe counts as a
    # failed delivery, so every event would be lost.
    path("webhooks/stripe", views.stripe_webhook, name="stripe-webhook-no-slash"),
]
