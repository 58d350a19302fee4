from django.contrib import admin
from django.urls import path

from reporting import views

app_name = "reporting"

# Pages of the admin: admin_view asks for the whole staff sign-in, the second factor included,
# before the view checks its own permission.

urlpatterns = [
    path(
        "staff/reports/finance/",
        admin.site.admin_view(views.finance_dashboard),
        name="finance-dashboard",
    ),
    path(
        "staff/reports/exports/<str:kind>/",
        admin.site.admin_view(views.export_download),
        name="export",
    ),
]
