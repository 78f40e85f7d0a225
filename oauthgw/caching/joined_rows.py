"""One row with the rows it points to, read by a statement built once per connection.

What ``select_related`` gives, without the ORM compiling the query again on every
call: for the rows the gateway reads on every request (a client at the token
endpoint, a token at a database-backed bearer check) that compilation cost more
CPU than the rest of the read. The caller writes the ``FROM``/``JOIN``/``WHERE``
from the models' metadata (only identifiers, never values, are interpolated);
this module supplies the column list, and turns the row back into model
instances with the ORM's own value converters (aware datetimes, booleans, JSON,
decrypted fields), as the ORM's compiler would.
"""

from dataclasses import dataclass

from django.db import connections


@dataclass(frozen=True)
class Table:
    """One model's columns in a joined statement, under a table alias."""

    model: type
    names: list[str]
    converters: list[tuple[list, object]]


def table_columns(connection, model, alias: str) -> tuple[Table, list[str]]:
    """The ``Table`` of ``model`` under ``alias``, and its quoted columns for the ``SELECT`` list."""
    fields = model._meta.concrete_fields
    cols = [field.get_col(alias) for field in fields]
    converters = [connection.ops.get_db_converters(col) + col.get_db_converters(connection) for col in cols]
    quote = connection.ops.quote_name
    table = Table(model, [field.attname for field in fields], list(zip(converters, cols, strict=True)))
    return table, [f"{alias}.{quote(field.column)}" for field in fields]


def read_joined_row(database: str, sql: str, params: list, tables: list[Table]) -> list | None:
    """Run ``sql`` (selecting the tables' columns in order); one instance per table, None where the join found none.

    None when no row matched.
    """
    connection = connections[database]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for table in tables:
        values = list(row[start : start + len(table.names)])
        start += len(table.names)
        for index, (functions, col) in enumerate(table.converters):
            for convert in functions:
                values[index] = convert(values[index], col, connection)
        present = values[table.names.index(table.model._meta.pk.attname)] is not None
        instances.append(table.model.from_db(database, table.names, values) if present else None)
    return instances
