from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    """The composition root: staff roles, health, the dev outbox and the demo seed."""

    name = "config"
    label = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from config import (
            auth,  # noqa: F401 (connects the login lockout's audit receiver)
            middleware,  # noqa: F401 (starts a staff session's idle clock at sign-in)
            staff_audit,  # noqa: F401 (staff users' groups, permissions, status)
        )
        from config.staff import staff_groups_sync

        post_migrate.connect(staff_groups_sync, dispatch_uid="portal.staff_groups_sync")


class PortalAdminConfig(AdminConfig):
    """Django's admin with the portal's site (config/admin_site.py) as `admin.site`, so every
    app's `@admin.register` lands on it."""

    default_site = "config.admin_site.PortalAdminSite"
