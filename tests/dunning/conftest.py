from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_hours(settings):
    """Tests pin the buyer's timezone themselves where it matters."""
    settings.DUNNING_DEFAULT_TIMEZONE = "Europe/London"
    settings.DUNNING_SUPPORT_PHONE = "+44 20 7946 0958"


# Real `celery worker` processes with a chosen visibility timeout (shared with the payments tests).
from tests.payments.conftest import worker_factory  # noqa: E402, F401
