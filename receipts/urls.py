from django.urls import path

from receipts import views

app_name = "receipts"

urlpatterns = [
    path(
        "account/<str:token>/documents/<str:number>.pdf",
        views.portal_download,
        name="portal-download",
    ),
]
