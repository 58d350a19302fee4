"""manage.py rollup_rebuild [--since YYYY-MM-DD] [--until YYYY-MM-DD]: rebuild the finance
dashboard's daily rollups from the source rows (default: every closed day)."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reporting.rollup import rollup_first_day, rollup_rebuild


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a day (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = "Rebuild the finance dashboard's daily rollups from the source rows."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=str, help="first day (default: the first row's)")
        parser.add_argument("--until", type=str, help="last day, included (default: yesterday)")

    def handle(self, *args, since=None, until=None, **options):
        first = _day(since) if since else rollup_first_day()
        last = _day(until) if until else timezone.localdate()
        if first is None:
            self.stdout.write("nothing to roll up: no source rows")
            return
        if first > last:
            raise CommandError("--since must not be after --until")
        built = rollup_rebuild(first_day=first, last_day=last)
        self.stdout.write(f"rolled up {built} closed day(s) from {first}")
