"""Writing a small graph of new rows in one statement, for the few hot paths that need it.

The ORM writes one statement per row. Where a public endpoint must create a row and its
dependants (a lead, its touchpoint and its consent records) that is a round trip each plus the
transaction's own. Here the parent is inserted with `ON CONFLICT (...) DO NOTHING` and the
dependants in the same statement only if the parent was, so the whole graph is written (or
not at all) by one statement, atomic on its own.

Primary keys must be known before the statement runs (the dependants point at them), so they
come from IdBlocks: ranges taken from the table's own sequence, a block at a time.
"""

from __future__ import annotations

import os
import threading

from django.db import connection
from django.db.models import Model


class IdBlocks:
    """Primary keys for `model`, taken from its sequence `block` at a time per process.

    The ids are unique, like any the sequence gives out, but not in time order across
    processes; nothing may read creation order from them (use created_at).
    """

    def __init__(self, model: type[Model], block: int = 50) -> None:
        self.model = model
        self.block = block
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._ids: list[int] = []

    def take(self) -> int:
        with self._lock:
            # A forked child must never hand out its parent's ids.
            if self._pid != os.getpid():
                self._pid, self._ids = os.getpid(), []
            if not self._ids:
                self._ids = self._fetch()
            return self._ids.pop()

    def _fetch(self) -> list[int]:
        meta = self.model._meta
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, self.block],
            )
            return sorted((row[0] for row in cursor.fetchall()), reverse=True)


def _fields(model: type[Model], *, with_pk: bool) -> list:
    return [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]


def _values(obj: Model, fields: list) -> list:
    return [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields]


def _base_type(field) -> str:
    # varchar(200) → varchar: a cast to varchar(n) would silently cut a value that is too long,
    # where the column itself refuses it.
    return field.db_type(connection).split("(")[0]


def rows_insert_if_new(
    *, parent: Model, conflict_field: str, dependents: list[list[Model]]
) -> bool:
    """Insert `parent` (its pk set) unless a row with the same `conflict_field` exists, and
    then, in the same statement, every object of `dependents` (each list holds objects of one
    model). A dependant's pk is inserted if set, else the table's default.

    Returns True if the parent was inserted (and so all of it), False if nothing was.
    """
    quote = connection.ops.quote_name
    parent_fields = _fields(type(parent), with_pk=True)
    # Identifiers come from the models' own metadata; every value is a parameter.
    parts = [
        f"WITH parent AS (INSERT INTO {quote(parent._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in parent_fields)}) "
        f"VALUES ({', '.join(['%s'] * len(parent_fields))}) "
        f"ON CONFLICT ({quote(conflict_field)}) DO NOTHING RETURNING 1)"
    ]
    params = _values(parent, parent_fields)
    for index, objects in enumerate(group for group in dependents if group):
        model = type(objects[0])
        fields = _fields(model, with_pk=objects[0].pk is not None)
        row = "(" + ", ".join(f"%s::{_base_type(f)}" for f in fields) + ")"
        parts.append(
            f"d{index} AS (INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"SELECT * FROM (VALUES {', '.join([row] * len(objects))}) AS v "
            "WHERE EXISTS (SELECT 1 FROM parent))"
        )
        for obj in objects:
            params += _values(obj, fields)
    sql = ",\n".join(parts) + "\nSELECT count(*) FROM parent"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0] == 1
