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

import functools
import operator
import os
import threading
from decimal import Decimal
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


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


@functools.cache
def _fields(model: type[Model], *, with_pk: bool) -> tuple:
    return tuple(f for f in model._meta.concrete_fields if with_pk or not f.primary_key)


@functools.cache
def _defaults(model: type[Model], *, with_pk: bool) -> tuple[dict[str, Any], tuple]:
    """A new instance's defaults, by attribute name: (the fixed ones, computed once, and the
    (attname, field) pairs whose default is made anew for each instance: a list, a dict, now)."""
    fixed: dict[str, Any] = {}
    per_instance = []
    for field in _fields(model, with_pk=with_pk):
        if field.has_default() and callable(field.default):
            per_instance.append((field.attname, field))
        else:
            fixed[field.attname] = field.get_default()
    return fixed, tuple(per_instance)


def _with_defaults(model: type[Model], values: dict[str, Any], *, with_pk: bool) -> dict:
    """`values` (by attribute name) and every field they leave out at its default."""
    fixed, per_instance = _defaults(model, with_pk=with_pk)
    row = {**fixed, **values}
    for attname, field in per_instance:
        if attname not in values:
            row[attname] = field.get_default()
    return row


def model_new(model: type[Model], values: dict[str, Any]) -> Model:
    """A new, unsaved `model` from attribute values (`owner_id` for a foreign key), every other
    field at its default, as `model(**values)` would make it.

    Model.__init__ sets each field through Python code, which for a model as wide as a lead
    costs more than the rest of building its rows; this sets the instance's attributes at once,
    as Model.from_db's instances end up. When anything listens for the model's pre_init or
    post_init signals (which __init__ sends), it goes through __init__ after all.
    """
    row = _with_defaults(model, values, with_pk=True)
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model(*[row[field.attname] for field in _fields(model, with_pk=True)])
    instance = model.__new__(model)
    instance._state = ModelState()
    instance.__dict__.update(row)
    return instance


def _json_default(value):
    """What orjson does not write itself (it writes dates, times and UUIDs as isoformat does)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot go into a row: {value!r}")


def _json(rows: list[dict]) -> str:
    # orjson: the stdlib encoder calls back into Python for every date and time in the rows.
    return orjson.dumps(rows, default=_json_default).decode()


@functools.cache
def _renames(model: type[Model]) -> dict[str, str]:
    """attname -> column where they differ (a db_column); usually empty."""
    return {f.attname: f.column for f in _fields(model, with_pk=True) if f.attname != f.column}


def _by_column(model: type[Model], row: dict[str, Any]) -> dict[str, Any]:
    renames = _renames(model)
    return {renames.get(key, key): value for key, value in row.items()} if renames else row


def _model_rows_json(objects: list[Model], fields: tuple) -> str:
    """The objects as a JSON array of {column: value}, for jsonb_populate_recordset. JSON
    columns nest as JSON; the column types' own input functions read everything else."""
    columns = [field.column for field in fields]
    values = operator.attrgetter(*[field.attname for field in fields])
    return _json([dict(zip(columns, values(obj), strict=True)) for obj in objects])


def _dict_rows_json(rows: list[dict], model: type[Model], *, with_pk: bool) -> str:
    """Rows given by attribute name; a column a row leaves out gets the field's default, as a
    new instance would (a callable default, such as timezone.now, is called for that row). A
    key that is no column of the table is not stored (jsonb_populate_recordset skips it)."""
    return _json([_by_column(model, _with_defaults(model, row, with_pk=with_pk)) for row in rows])


@functools.cache
def _statement(parent: type[Model], conflict_field: str, dependents: tuple) -> str:
    """The SQL for one shape of graph: a parent model and (model, with_pk) per dependant."""
    quote = connection.ops.quote_name

    def insert(model, fields, name: str) -> str:
        table = quote(model._meta.db_table)
        columns = ", ".join(quote(f.column) for f in fields)
        # Identifiers come from the models' own metadata; the rows are one parameter each.
        return (
            f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608
            f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS {name}"
        )

    parts = [
        "WITH parent AS ("
        + insert(parent, _fields(parent, with_pk=True), "p")
        + f" ON CONFLICT ({quote(conflict_field)}) DO NOTHING RETURNING 1)"
    ]
    for index, (model, with_pk) in enumerate(dependents):
        parts.append(
            f"d{index} AS ("  # noqa: S608 (see insert())
            + insert(model, _fields(model, with_pk=with_pk), f"r{index}")
            + " WHERE EXISTS (SELECT 1 FROM parent))"
        )
    return ",\n".join(parts) + "\nSELECT count(*) FROM parent"


def rows_insert_if_new(
    *,
    parent: Model,
    conflict_field: str,
    dependents: list[tuple[type[Model], list[dict[str, Any]]]],
) -> bool:
    """Insert `parent` (its pk set) unless a row with the same `conflict_field` exists, and
    then, in the same statement, every row of `dependents`.

    Each dependant group is (model, rows): each row maps attribute names (`lead_id` for a
    foreign key) to values, and a column it leaves out gets the model field's default, as a
    new instance would. Rows are plain dicts because building a model instance per row costs
    more than the rest of the work. A group's rows either all carry the pk or none do (the
    table's default then numbers them).

    Returns True if the parent was inserted (and so all of it), False if nothing was.
    """
    groups = [(model, rows) for model, rows in dependents if rows]
    pk_names = [model._meta.pk.attname for model, _ in groups]
    shape = tuple(
        (model, rows[0].get(pk) is not None)
        for (model, rows), pk in zip(groups, pk_names, strict=True)
    )
    sql = _statement(type(parent), conflict_field, shape)
    params = [_model_rows_json([parent], _fields(type(parent), with_pk=True))]
    for (model, rows), (_, with_pk) in zip(groups, shape, strict=True):
        params.append(_dict_rows_json(rows, model, with_pk=with_pk))
    with _server_binding_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0] == 1


def _server_binding_cursor():
    """A Django cursor (errors translated, queries logged in DEBUG) that sends parameters apart
    from the SQL: quoting kilobytes of JSON into the statement text costs more than sending it.
    """
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper.close_if_health_check_failed()  # what connection.cursor() does first
    wrapper.ensure_connection()
    wrapper.validate_thread_sharing()
    raw = ServerBindingCursor(wrapper.connection)
    if wrapper.queries_logged:
        return wrapper.make_debug_cursor(raw)
    return wrapper.make_cursor(raw)
