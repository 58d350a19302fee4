# The production shape used by docker-compose.yml: one image for web, worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# WeasyPrint needs Pango; libharfbuzz-subset0 makes each PDF ~5x faster.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
      libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN DJANGO_SETTINGS_MODULE=config.settings.local DJANGO_STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput
ENV DJANGO_STATIC_ROOT=/app/staticfiles

RUN useradd --create-home portal
USER portal
EXPOSE 8000
# --timeout above STRIPE_WEB_BUDGET_SECONDS (12 s): a hung Stripe never gets a worker killed.
CMD ["gunicorn", "config.wsgi:application", "--workers", "2", "--bind", "0.0.0.0:8000", "--timeout", "30"]
