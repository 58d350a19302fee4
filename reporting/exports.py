"""Exports of payments, receipts, refunds, leads and dunning cases as CSV or XLSX.

Rows are read with `values_list(...).iterator(chunk_size=...)` (a server-side cursor), turned
into cells by one formatter per column, and written out chunk by chunk, so memory stays flat
however many rows there are. Text cells are made safe against formula injection: a spreadsheet
runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula, so such
a cell is prefixed with `'` (OWASP's advice), which shows the text as typed.

The view (reporting/views.py) and `manage.py export_report` both write through `export_rows`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from babel.numbers import get_currency_precision
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from dunning.models import DunningCase
from leads.models import Lead
from payments.models import Payment, Refund
from receipts.models import Receipt

CHUNK_ROWS = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")


def cell_safe(value: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class ExportError(ValueError):
    """Bad export parameters (an unknown kind or format): nothing was exported."""


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    # text (made formula-safe), int, money (minor units, next to a "currency" column), when, bool
    kind: str = "text"


@dataclass(frozen=True)
class ExportKind:
    name: str
    model: type
    date_field: str
    columns: tuple[Column, ...]
    # The only kind Sales may export, and then only the rows they own.
    owner_field: str = ""


_COMMON_ORDER = ("pk",)

KINDS: dict[str, ExportKind] = {
    k.name: k
    for k in (
        ExportKind(
            "payments",
            Payment,
            "created_at",
            (
                Column("id", "pk", "int"),
                Column("payment_intent", "stripe_payment_intent_id"),
                Column("order", "order__reference"),
                Column("customer_email", "customer__email"),
                Column("status", "status"),
                Column("attempt_kind", "attempt_kind"),
                Column("currency", "currency"),
                Column("amount", "amount", "money"),
                Column("amount_received", "amount_received", "money"),
                Column("amount_refunded", "amount_refunded", "money"),
                Column("failure_code", "failure_code"),
                Column("decline_code", "decline_code"),
                Column("created_at", "created_at", "when"),
                Column("succeeded_at", "succeeded_at", "when"),
            ),
        ),
        ExportKind(
            "receipts",
            Receipt,
            "issued_at",
            (
                Column("number", "number"),
                Column("issued_at", "issued_at", "when"),
                Column("payment_intent", "payment__stripe_payment_intent_id"),
                Column("order", "order__reference"),
                Column("buyer_name", "buyer_name"),
                Column("buyer_email", "buyer_email"),
                Column("currency", "currency"),
                Column("net", "net", "money"),
                Column("tax", "tax", "money"),
                Column("total", "total", "money"),
                Column("status", "status"),
            ),
        ),
        ExportKind(
            "refunds",
            Refund,
            "created_at",
            (
                Column("id", "pk", "int"),
                Column("refund", "stripe_refund_id"),
                Column("payment_intent", "payment__stripe_payment_intent_id"),
                Column("order", "payment__order__reference"),
                Column("status", "status"),
                Column("currency", "currency"),
                Column("amount", "amount", "money"),
                Column("reason", "reason"),
                Column("requested_by", "requested_by__username"),
                Column("created_at", "created_at", "when"),
            ),
        ),
        ExportKind(
            "leads",
            Lead,
            "created_at",
            (
                Column("id", "pk", "int"),
                Column("created_at", "created_at", "when"),
                Column("name", "name"),
                Column("email", "email"),
                Column("company", "company"),
                Column("country", "country"),
                Column("status", "status"),
                Column("owner", "owner__username"),
                Column("payment_ready", "is_ready", "bool"),
                Column("first_response", "sla_state"),
                Column("first_contacted_at", "first_contacted_at", "when"),
            ),
            owner_field="owner",
        ),
        ExportKind(
            "dunning_cases",
            DunningCase,
            "opened_at",
            (
                Column("id", "pk", "int"),
                Column("order", "order__reference"),
                Column("cause", "cause"),
                Column("status", "status"),
                Column("category", "category"),
                Column("decline_code", "decline_code"),
                Column("currency", "currency"),
                Column("amount", "amount", "money"),
                Column("amount_recovered", "amount_recovered", "money"),
                Column("recovered_channel", "recovered_channel"),
                Column("opened_at", "opened_at", "when"),
                Column("closed_at", "closed_at", "when"),
                Column("recovered_at", "recovered_at", "when"),
                Column("owner", "owner__username"),
            ),
        ),
    )
}


def export_kind(name: str) -> ExportKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ExportError(
            f"There is no export called {name!r}. Choose one of: {', '.join(KINDS)}."
        ) from None


def export_queryset(
    *, kind: ExportKind, since: datetime, until: datetime, owner: Any = None
) -> QuerySet:
    """The rows of `kind` in [since, until) by its date field, oldest first, as tuples in column
    order; only `owner`'s rows when one is given (Sales' own leads)."""
    rows = kind.model.objects.filter(
        **{f"{kind.date_field}__gte": since, f"{kind.date_field}__lt": until}
    )
    if owner is not None:
        if not kind.owner_field:
            raise ExportError(f"The {kind.name} export has no owner to restrict it to.")
        rows = rows.filter(**{kind.owner_field: owner})
    # Times are rendered by Postgres (ISO 8601 in UTC, "2026-11-02 10:00:00+00"): parsing each
    # into a datetime only to print it again is a third of an export's time.
    fields = [Cast(c.field, TextField()) if c.kind == "when" else c.field for c in kind.columns]
    return rows.order_by(kind.date_field, "pk").values_list(*fields)


_PRECISION: dict[str, int] = {}


def _money(amount: int | None, currency: str) -> Decimal | None:
    if amount is None:
        return None
    code = (currency or "").upper()
    if code not in _PRECISION:
        _PRECISION[code] = get_currency_precision(code)
    return Decimal(amount).scaleb(-_PRECISION[code])


def _text(value: Any) -> str:
    return "" if value is None else cell_safe(str(value))


def _when(value: str | None) -> str:
    return value or ""


def _row_maker(kind: ExportKind) -> Callable[[tuple], list]:
    """One function per export turning a database row into cells (money in major units of its
    row's currency, exactly: Decimal, never float)."""
    fields = [c.field for c in kind.columns]
    currency_at = fields.index("currency") if "currency" in fields else None
    plain = {
        "text": _text,
        "when": _when,
        "int": lambda v: v,
        "bool": lambda v: "yes" if v else "no",
    }
    makers: list[tuple[int, Callable]] = []
    money_at: list[int] = []
    for i, column in enumerate(kind.columns):
        if column.kind == "money":
            money_at.append(i)
        else:
            makers.append((i, plain[column.kind]))

    def make(row: tuple) -> list:
        cells = list(row)
        for i, fn in makers:
            cells[i] = fn(row[i])
        if money_at:
            currency = row[currency_at]
            for i in money_at:
                cells[i] = _money(row[i], currency)
        return cells

    return make


def export_rows(rows: QuerySet, kind: ExportKind) -> Iterator[list]:
    """Cells of every row, read from a server-side cursor CHUNK_ROWS at a time."""
    make = _row_maker(kind)
    for row in rows.iterator(chunk_size=CHUNK_ROWS):
        yield make(row)


def csv_chunks(kind: ExportKind, cells: Iterable[list], *, progress=None) -> Iterator[str]:
    """The CSV text, a header then CHUNK_ROWS rows per piece (what the response streams)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.header for c in kind.columns])
    n = 0
    for row in cells:
        writer.writerow(row)
        n += 1
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if progress:
                progress(n)
    yield buffer.getvalue()
    if progress:
        progress(n)


def xlsx_write(kind: ExportKind, cells: Iterable[list], out: IO[bytes], *, progress=None) -> int:
    """The rows as one sheet of an XLSX workbook in openpyxl's write-only mode (rows go to a
    temporary file as they come, not into memory). Returns the number of rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(kind.name)
    sheet.append([c.header for c in kind.columns])
    n = 0
    for row in cells:
        sheet.append(row)
        n += 1
        if progress and n % CHUNK_ROWS == 0:
            progress(n)
    workbook.save(out)
    if progress:
        progress(n)
    return n


def export_filename(kind: ExportKind, since: datetime, until: datetime, fmt: str) -> str:
    return f"{kind.name}-{since:%Y%m%d}-{until:%Y%m%d}.{fmt}"
