from django.urls import path

from dunning import views

app_name = "dunning"

# /pay/<token>/ is the payment link (DESIGN.md §5); config/urls.py includes these at the root.
urlpatterns = [
    path("pay/<str:token>/", views.pay, name="pay"),
    path("pay/<str:token>/setup/", views.pay_setup, name="setup"),
    path("pay/<str:token>/card/", views.pay_card, name="card"),
    path("pay/<str:token>/status/", views.pay_status, name="status"),
    path("pay/<str:token>/done/", views.pay_done, name="done"),
    path("pay/<str:token>/fresh/", views.pay_fresh, name="fresh"),
    path("pay/<str:token>/callback/", views.pay_callback, name="callback"),
    path("pay/<str:token>/transfer/", views.pay_transfer, name="transfer"),
]
