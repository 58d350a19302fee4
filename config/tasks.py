from django.core.cache import cache
from django.utils import timezone

from config.celery import app


@app.task(name="config.tasks.beat_heartbeat")
def beat_heartbeat() -> str:
    """Proves beat and a worker are alive; /healthz reports when it last ran."""
    now = timezone.now().isoformat()
    cache.set("portal:beat-heartbeat", now, timeout=None)
    return now
