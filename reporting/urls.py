from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("staff/reports/finance/", views.finance_dashboard, name="finance-dashboard"),
    path("staff/reports/exports/<str:kind>/", views.export_download, name="export"),
]
