"""manage.py export_report --kind payments --since 2026-01-01 --until 2026-12-31
[--format csv|xlsx] [--output path]: the same file as the dashboard's export link."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from config.audit import audit_log_record
from reporting.exports import (
    FORMATS,
    KINDS,
    csv_chunks,
    export_filename,
    export_kind,
    export_queryset,
    export_rows,
    xlsx_write,
)
from reporting.forms import ExportForm


class Progress:
    """A one-line progress bar on the command's stderr, redrawn at most a few times a second."""

    def __init__(self, total: int, stream, width: int = 30):
        self.total, self.stream, self.width = total, stream, width
        self.started = self.drawn = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if done < self.total and now - self.drawn < 0.2:
            return
        self.drawn = now
        share = done / self.total if self.total else 1.0
        bar = "#" * int(share * self.width)
        rate = done / max(now - self.started, 1e-6)
        self.stream.write(
            f"\r[{bar:<{self.width}}] {done:,}/{self.total:,} rows {share:4.0%} {rate:,.0f} rows/s",
            ending="",
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("")
        self.stream.flush()


class Command(BaseCommand):
    help = "Export payments, receipts, refunds, leads or dunning cases for a date range."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=list(KINDS))
        parser.add_argument("--since", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--until", required=True, help="Last day (included), YYYY-MM-DD.")
        parser.add_argument("--format", default="csv", choices=FORMATS)
        parser.add_argument("--output", help="File to write (default: a name from the kind).")

    def handle(self, *args, **options):
        form = ExportForm(
            {
                "date_from": options["since"],
                "date_to": options["until"],
                "format": options["format"],
            }
        )
        if not form.is_valid():
            problems = "; ".join(
                f"{name}: {e}" for name, errors in form.errors.items() for e in errors
            )
            raise CommandError(f"Nothing was exported: {problems}")
        kind = export_kind(options["kind"])
        since, until = form.period()
        fmt = form.cleaned_data["format"]
        path = options["output"] or export_filename(kind, since, form.cleaned_data["date_to"], fmt)
        rows = export_queryset(kind=kind, since=since, until=until)
        progress = Progress(rows.count(), stream=self.stderr)
        audit_log_record(
            actor=None,
            action="reporting.export",
            detail={
                "kind": kind.name,
                "format": fmt,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "scope": "all",
                "via": "manage.py export_report",
                "output": str(path),
            },
        )
        cells = export_rows(rows, kind)
        if fmt == "xlsx":
            with open(path, "wb") as out:
                xlsx_write(kind, cells, out, progress=progress)
        else:
            with open(path, "w", newline="", encoding="utf-8") as out:
                for chunk in csv_chunks(kind, cells, progress=progress):
                    out.write(chunk)
        progress.close()
        self.stdout.write(f"Wrote {progress.total:,} {kind.name} to {path}")
