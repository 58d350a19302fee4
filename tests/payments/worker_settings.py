"""Settings for the short-visibility worker of the SIGKILL test: an unacked message is restored
after CELERY_VISIBILITY_TIMEOUT, and kombu scans for such messages every second (its default
scan period is about 100 s, fine for production's one-hour visibility, too slow for a test)."""

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BROKER_TRANSPORT_OPTIONS

CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
