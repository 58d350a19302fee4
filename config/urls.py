from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "api/docs/",
        # The split view serves Swagger UI's start-up script as a file of its own, not inline,
        # and its assets come from our static files: the page runs under our policy.
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[]),
        name="api-docs",
    ),
    path("dev/outbox/", admin.site.admin_view(views.dev_outbox), name="dev-outbox"),
    path("", include("payments.urls")),
    path("", include("leads.urls")),
    path("", include("checkout.urls")),
    path("", include("checkout.portal.urls")),
    path("", include("receipts.urls")),
    path("", include("dunning.urls")),
    path("", include("reporting.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
