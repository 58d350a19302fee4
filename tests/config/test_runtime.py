"""The server process's garbage-collector tuning (config.runtime, applied by config.wsgi)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_wsgi_app_freezes_what_start_up_built():
    # A fresh process, as a gunicorn worker imports the app (production settings need secrets,
    # so the test settings stand in; the tuning does not depend on them).
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    probe = (
        "import gc, sys\n"
        "before = gc.get_threshold()\n"
        "import config.wsgi\n"
        "print(before[0], gc.get_threshold()[0], gc.get_freeze_count(),"
        " 'leads.views' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    default, after, frozen, views_loaded = result.stdout.split()
    assert int(default) == int(after) == 700  # CPython's thresholds are kept
    assert int(frozen) > 100_000  # Django and the apps: the collector never walks them again
    assert views_loaded == "True"  # the URLconf's views were imported before the freeze
