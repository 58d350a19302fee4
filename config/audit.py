from contextvars import ContextVar
from typing import Any

from django.db import models

from config.logging import request_id_var
from config.models import AuditLogEntry

# The user behind the current request (config.middleware.AuditActorMiddleware), for receivers
# that record a change without a request at hand; None in the shell, tasks and migrations.
audit_actor_var: ContextVar[Any] = ContextVar("audit_actor", default=None)


def audit_log_record(
    *, actor: Any, action: str, target: models.Model | None = None, detail: dict | None = None
) -> AuditLogEntry:
    """Record a staff or system action. `actor` is a user, or None for the system."""
    return AuditLogEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        detail=detail or {},
        request_id=request_id_var.get()[:64],
    )
