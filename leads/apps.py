from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LeadsConfig(AppConfig):
    name = "leads"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Leads"

    def ready(self) -> None:
        post_migrate.connect(_defaults_ensure, sender=self, dispatch_uid="leads.defaults_ensure")


def _defaults_ensure(**kwargs) -> None:
    """Consent wording v1 and a readiness policy, so the form works on a fresh database
    (and again after a test flush)."""
    from django.db import connections

    from leads.services.consent import consent_texts_ensure_defaults
    from leads.services.readiness import readiness_policy_ensure_default

    tables = set(connections[kwargs.get("using", "default")].introspection.table_names())
    if not {"leads_consenttext", "leads_readinesspolicy"} <= tables:
        return  # leads is migrated back to zero
    consent_texts_ensure_defaults()
    readiness_policy_ensure_default()
