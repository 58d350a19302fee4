from django.urls import path

from checkout.portal import views

app_name = "checkout_portal"

urlpatterns = [
    path("account/", views.portal_link_request, name="link-request"),
    path("account/<str:token>/", views.portal, name="portal"),
    path("account/<str:token>/card/setup/", views.card_setup, name="card-setup"),
    path("account/<str:token>/card/", views.card_save, name="card-save"),
    path(
        "account/<str:token>/orders/<str:reference>/pay/",
        views.balance_pay,
        name="balance-pay",
    ),
    path(
        "account/<str:token>/orders/<str:reference>/return/",
        views.balance_return,
        name="balance-return",
    ),
    path(
        "account/<str:token>/subscriptions/<int:subscription_id>/cancel/",
        views.subscription_cancel_view,
        name="subscription-cancel",
    ),
    path(
        "account/<str:token>/payments/<int:payment_id>/confirm/",
        views.balance_confirm,
        name="balance-confirm",
    ),
]
