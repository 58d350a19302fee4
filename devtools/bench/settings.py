"""Production settings plus the bench's own URLs (devtools/bench/urls.py). Only `make bench`
uses this module; the production URLconf has no benchmark views."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "devtools.bench.urls"
