"""Postgres COPY for the scale seed: ids reserved from each table's sequence, rows copied in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb


def ids_reserve(model: type[models.Model], count: int) -> int:
    """The first of `count` consecutive ids taken from the table's own sequence (the table is
    locked by the caller, so nothing else takes ids meanwhile)."""
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s))", [table, pk])
        first = cursor.fetchone()[0]
        if count > 1:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), %s)", [table, pk, first + count - 1]
            )
    return first


def rows_copy(model: type[models.Model], rows: list[dict]) -> int:
    """COPY `rows` (dicts of field name or attname → value) into the model's table. Columns a
    row leaves out take the field's default, evaluated once; so the id and every unique column
    must be in each row."""
    if not rows:
        return 0
    fields = list(model._meta.concrete_fields)
    index: dict[str, int] = {}
    template: list = []
    required: list[int] = []
    json_columns: set[int] = set()
    for i, f in enumerate(fields):
        index[f.name] = index[f.attname] = i
        if isinstance(f, models.JSONField):
            json_columns.add(i)
        if f.primary_key or (f.unique and not f.null):
            required.append(i)
            template.append(None)
        elif isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
            template.append(timezone.now())
        else:
            # The field's own default ("" for a blank text field, None when there is none).
            default = f.get_default()
            if i in json_columns and default is not None:
                default = Jsonb(default)
            template.append(default)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            values = template.copy()
            for key, value in row.items():
                i = index[key]
                values[i] = Jsonb(value) if i in json_columns and value is not None else value
            for i in required:
                if values[i] is None:
                    raise ValueError(f"{model.__name__}.{fields[i].name}: every row must give it")
            copy.write_row(values)
    return len(rows)


def chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
