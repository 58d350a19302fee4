from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reports"
    default_auto_field = "django.db.models.BigAutoField"
