from django.conf import settings
from django.db import models


class AuditLogEntry(models.Model):
    """One staff (or system) action. Append-only: the admin can only read it."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_type}#{self.target_id}"


class StatusEvent(models.Model):
    """One attempted change of a status, applied or not, and what caused it.

    The history row every status machine writes (config/transitions.py). A concrete history
    model adds only its foreign key to the row whose status changed, and its own extras (the
    Stripe event id, the payment behind the move).
    """

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        UNCHANGED = "unchanged", "Already in that state"
        REFUSED = "refused", "Refused (not an allowed move)"
        STALE = "stale", "Stale (older than the current state)"
        NOTED = "noted", "Noted (no change of status)"

    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.APPLIED)
    cause = models.CharField(max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status} ({self.outcome}, {self.cause})"
