"""This database's identity towards Stripe (payments.Installation)."""

from __future__ import annotations

import secrets

from django.db import transaction

from config.audit import audit_log_record
from payments.models import Installation


def installation_reset(*, actor=None) -> str:
    """Give this database a new random installation id, for a database copied from another
    (staging restored from production): from now on its idempotency keys cannot collide with
    the original's. Keys of calls still waiting for an answer are not replayed afterwards, so
    run it before the copy talks to Stripe."""
    with transaction.atomic():
        installation, _ = Installation.objects.select_for_update().get_or_create(
            id=1, defaults={"installation_id": secrets.token_hex(8)}
        )
        previous = installation.installation_id
        installation.installation_id = secrets.token_hex(8)
        installation.save(update_fields=["installation_id"])
        audit_log_record(
            actor=actor,
            action="payments.installation_reset",
            target=installation,
            detail={"previous": previous},
        )
    return installation.installation_id
