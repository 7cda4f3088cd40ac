"""Loading many rows of one model at once, for services that have checked every value themselves (the legacy import).

``bulk_create`` builds a model instance per row and compiles every value through the SQL compiler: over the
hundreds of thousands of rows of an old database that is most of an import's time, and on SQLite it also splits
the rows into statements of 999 parameters (about 30 rows each). ``insert_rows`` sends plain tuples instead — with
``COPY`` on PostgreSQL and one prepared ``INSERT`` run for every row (``executemany``) on SQLite — with the values
converted exactly as Django converts them for that database, and returns the new primary keys, taken from the
table's sequence beforehand (neither ``COPY`` nor ``executemany`` can return them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.db import connection, models, transaction

#: Fields whose values (text, numbers, booleans, keys, or None) reach the driver as they are.
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]], *, keys: bool = True
) -> list[int]:
    """INSERT ``rows`` — tuples of the values of ``fields``, in that order — into ``model``'s table; returns the
    primary keys given to them, in the same order (with ``keys=False`` the database numbers them as it inserts
    them, a little faster, and none are returned).

    The model's other fields take their default (or the database's, ``db_default``), the same for every row: so
    not for a field whose default must differ per row, nor ``auto_now``. Like ``bulk_create``: no ``save()``, no
    signals — the caller audits.
    """
    rows = list(rows)
    if not rows:
        return []
    meta = model._meta
    given = [meta.get_field(name) for name in fields]
    named = {field.name for field in given}
    others = [  # filled with their default here, unless the database has its own (``db_default``)
        field
        for field in meta.concrete_fields
        if field.name not in named and not field.primary_key and (field.has_default() or not field.has_db_default())
    ]
    defaults = tuple(field.get_db_prep_save(field.get_default(), connection) for field in others)
    converters = [
        (index, _converter(field)) for index, field in enumerate(given) if field.get_internal_type() not in _AS_IS
    ]

    def prepared(row: Sequence[Any], *pk: int) -> tuple:
        if converters:
            row = list(row)
            for index, convert in converters:
                row[index] = convert(row[index])
        return (*pk, *row, *defaults)

    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in [*([meta.pk] if keys else []), *given, *others])
    table = quote(meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:  # on SQLite the transaction holds the write lock
        pks = _new_pks(cursor, model, len(rows)) if keys else []
        values = map(prepared, rows, pks) if keys else map(prepared, rows)
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * (int(keys) + len(given) + len(others)))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608 - names from the model
                list(values),
            )
    return pks


def _new_pks(cursor, model: type[models.Model], count: int) -> list[int]:
    """``count`` primary keys no row has or had: from the table's sequence on PostgreSQL; on SQLite, after the
    largest ever given (``AUTOINCREMENT``), which stays so until the transaction that holds the write lock ends."""
    table, pk = model._meta.db_table, model._meta.pk.column
    if connection.vendor == "postgresql":
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, count])
        return [row[0] for row in cursor.fetchall()]
    # Otherwise SQLite: settings.SUPPORTED_ENGINES admits no other engine.
    quote = connection.ops.quote_name
    cursor.execute(
        f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
        f"coalesce((SELECT max({quote(pk)}) FROM {quote(table)}), 0))",
        [table],
    )
    last = cursor.fetchone()[0]
    return list(range(last + 1, last + 1 + count))


def _converter(field: models.Field) -> Callable[[Any], Any]:
    """A value of ``field`` as Django sends it to the database (``get_db_prep_save``)."""
    prepare = partial(field.get_db_prep_save, connection=connection)
    kind = field.get_internal_type()
    if kind in ("DateField", "DecimalField"):
        return lambda value: None if value is None else prepare(value)
    if kind == "DateTimeField":
        adapt = connection.ops.adapt_datetimefield_value

        def moment(value: Any) -> Any:
            # An aware datetime (or None) needs only the database's adaptation, which is most of the time
            # bulk_create spends per row; anything else takes the field's whole way (naive times warned about).
            if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
                return adapt(value)
            return prepare(value)

        return moment
    return prepare


def refresh_statistics(*models: type[models.Model]) -> None:
    """Let PostgreSQL's planner see how much these tables grew (``ANALYZE``), in the middle of a bulk load.

    Autovacuum analyses a table some time after it grew; until then the planner still believes a table that
    took tens of thousands of rows in the last seconds to be nearly empty, and looks legacy IDs up by scanning
    every row of their source instead of probing the index for each (about 4 times slower per lookup).
    Other databases plan without such statistics: nothing to do.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models))
