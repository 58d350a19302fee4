from typing import Any

from django.db import models

from config.logging import request_id_var
from config.models import AuditLogEntry


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
