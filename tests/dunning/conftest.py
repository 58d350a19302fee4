from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_hours(settings):
    """Tests pin the buyer's timezone themselves where it matters."""
    settings.DUNNING_DEFAULT_TIMEZONE = "Europe/London"
    settings.DUNNING_SUPPORT_PHONE = "+44 20 7946 0958"
