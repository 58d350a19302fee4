"""Create or update the account's webhook endpoint for this portal: the URL
`PORTAL_BASE_URL/webhooks/stripe/`, the pinned API version (`STRIPE_API_VERSION`) and exactly
the event types the portal handles (`payments.webhooks.HANDLERS`, read when it runs).

Running it again changes nothing when the endpoint is right. Stripe shows an endpoint's signing
secret only when it is created, so this prints it then, for STRIPE_WEBHOOK_SECRET. Stripe cannot
change an endpoint's API version: after a version bump this creates a new endpoint and names the
old one to delete once the new secret is in place.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from payments import gateway
from payments.webhooks import HANDLERS


class Command(BaseCommand):
    help = (
        "Create or update this portal's Stripe webhook endpoint (pinned API version, the "
        "handled event types). Prints the signing secret when it creates one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            help="the endpoint's URL (default: PORTAL_BASE_URL + /webhooks/stripe/)",
        )
        parser.add_argument(
            "--secret-file",
            help="also write a new endpoint's signing secret to this file (mode 600)",
        )

    def handle(self, *args, url: str | None, secret_file: str | None, **options):
        url = url or settings.PORTAL_BASE_URL.rstrip("/") + reverse("payments:stripe-webhook")
        version = settings.STRIPE_API_VERSION
        events = sorted(HANDLERS)
        try:
            ours = [e for e in gateway.webhook_endpoints_list() if e.url == url]
            current = next((e for e in ours if e.api_version == version), None)
            if current is None:
                endpoint = gateway.webhook_endpoint_create(
                    url=url,
                    enabled_events=events,
                    api_version=version,
                    description="Lead-to-cash portal (manage.py stripe_webhook_endpoint)",
                )
            elif set(current.enabled_events) != set(events) or current.status != "enabled":
                endpoint = gateway.webhook_endpoint_update(current.id, enabled_events=events)
            else:
                endpoint = current
        except gateway.GatewayError as exc:
            raise CommandError(f"Stripe refused or could not be reached: {exc}") from exc

        if endpoint.secret:
            self.stdout.write(
                f"Created webhook endpoint {endpoint.id} for {url} at API version {version}, "
                f"receiving {len(events)} event types."
            )
            self.stdout.write(
                "Its signing secret (Stripe shows it only now): put it in the portal's "
                "environment as\n"
                f"    STRIPE_WEBHOOK_SECRET={endpoint.secret}\n"
                "and restart the web processes."
            )
            if secret_file:
                path = Path(secret_file)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(endpoint.secret + "\n")
                os.chmod(path, 0o600)
        elif endpoint is current:
            self.stdout.write(
                f"Webhook endpoint {endpoint.id} for {url} is up to date (API version "
                f"{version}, {len(events)} event types). STRIPE_WEBHOOK_SECRET stays as it is."
            )
        else:
            self.stdout.write(
                f"Updated webhook endpoint {endpoint.id} for {url}: it now receives exactly the "
                f"{len(events)} event types the portal handles. STRIPE_WEBHOOK_SECRET stays as "
                "it is."
            )
        self.stdout.write("Event types: " + ", ".join(events))
        for other in ours:
            if other.id != endpoint.id:
                self.stdout.write(
                    self.style.WARNING(
                        f"Endpoint {other.id} also sends to {url}, at API version "
                        f"{other.api_version or 'the account default'}. Both send every "
                        "event; the portal takes those signed with STRIPE_WEBHOOK_SECRET and "
                        "refuses the others, which Stripe retries. Delete it in the Stripe "
                        "Dashboard once STRIPE_WEBHOOK_SECRET holds the new secret."
                    )
                )
