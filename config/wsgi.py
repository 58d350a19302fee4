import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()

from config.runtime import server_gc_tune  # noqa: E402 (Django must be set up first)

server_gc_tune()
