from django.apps import AppConfig


class DunningConfig(AppConfig):
    name = "dunning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from dunning import receivers

        receivers.connect()
        post_migrate.connect(_defaults_ensure, sender=self)


def _defaults_ensure(**_kwargs) -> None:
    """The default policy and copy exist after every migrate (the data migration makes them on
    a fresh database; this keeps them after a database was flushed and migrated again)."""
    from dunning.services.policies import dunning_policy_default_ensure, dunning_templates_ensure

    dunning_policy_default_ensure()
    dunning_templates_ensure()
