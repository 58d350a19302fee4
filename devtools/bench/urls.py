from django.urls import include, path

from devtools.bench import views

urlpatterns = [
    path("bench/bare/", views.bench_bare, name="bench-bare"),
    path("bench/lead-baseline/", views.bench_lead_baseline, name="bench-lead-baseline"),
    path("bench/webhook-minimal/", views.bench_webhook_minimal, name="bench-webhook-minimal"),
    path("", include("config.urls")),
]
