from django.urls import path

from checkout import views_portal

app_name = "checkout_portal"

urlpatterns = [
    path("account/", views_portal.portal_link_request, name="link-request"),
    path("account/<str:token>/", views_portal.portal, name="portal"),
    path("account/<str:token>/card/setup/", views_portal.card_setup, name="card-setup"),
    path("account/<str:token>/card/", views_portal.card_save, name="card-save"),
    path(
        "account/<str:token>/orders/<str:reference>/pay/",
        views_portal.balance_pay,
        name="balance-pay",
    ),
    path(
        "account/<str:token>/orders/<str:reference>/return/",
        views_portal.balance_return,
        name="balance-return",
    ),
    path(
        "account/<str:token>/subscriptions/<int:subscription_id>/cancel/",
        views_portal.subscription_cancel_view,
        name="subscription-cancel",
    ),
    path(
        "account/<str:token>/payments/<int:payment_id>/confirm/",
        views_portal.balance_confirm,
        name="balance-confirm",
    ),
]
