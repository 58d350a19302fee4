from django.urls import path

from checkout import views
from checkout.csat import views as csat_views
from checkout.notifications import bounces

app_name = "checkout"

urlpatterns = [
    path("checkout/<slug:slug>/", views.checkout_start, name="start"),
    path("checkout/<slug:slug>/<uuid:token>/", views.checkout_pay_page, name="pay"),
    path("checkout/<slug:slug>/<uuid:token>/setup/", views.checkout_setup, name="setup"),
    path("checkout/<slug:slug>/<uuid:token>/pay/", views.checkout_pay_api, name="pay_api"),
    path("checkout/<slug:slug>/<uuid:token>/status/", views.checkout_status_api, name="status"),
    path("checkout/<slug:slug>/<uuid:token>/return/", views.checkout_return, name="return"),
    path("checkout/<slug:slug>/<uuid:token>/done/", views.checkout_done, name="done"),
    path("feedback/payment/<str:token>/", csat_views.csat_page, name="csat"),
    # Bounce reports for the customer emails (the message log's delivery tracking).
    path("webhooks/email/bounce/", bounces.email_bounce, name="email-bounce"),
]
