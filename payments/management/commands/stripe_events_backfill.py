"""Fetch Stripe events in a date range from the Events API into the inbox, and process the new
ones. Events already in the inbox are left alone, so running it twice is safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from payments import gateway
from payments.services.inbox import webhook_events_backfill


def _date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date like 2026-11-01 or 2026-11-01T12:00") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Backfill the webhook inbox from Stripe's Events API (Stripe keeps 30 days)."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="start, e.g. 2026-11-01 (UTC)")
        parser.add_argument(
            "--until", help="end, inclusive; a bare date means the end of that day (default: now)"
        )

    def handle(self, *args, since: str, until: str | None, **options):
        start = _date(since)
        if until:
            end = _date(until)
            if "T" not in until and " " not in until:
                end += timedelta(days=1, seconds=-1)
        else:
            end = datetime.now(tz=UTC)
        if end < start:
            raise CommandError("--until is before --since")
        if start < datetime.now(tz=UTC) - timedelta(days=30):
            self.stderr.write("Stripe only keeps 30 days of events; older ones will be missing.")
        try:
            counts = webhook_events_backfill(
                created_gte=int(start.timestamp()), created_lte=int(end.timestamp())
            )
        except gateway.GatewayError as exc:
            raise CommandError(f"Stripe's Events API failed: {exc}") from exc
        self.stdout.write(
            f"{counts['fetched']} events from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: "
            f"{counts['stored']} new (queued), {counts['known']} already in the inbox."
        )
