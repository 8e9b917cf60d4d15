"""Write many rows at the speed of the database: `COPY` on PostgreSQL, large `executemany` on SQLite.

Uploads (experiment events, monitoring rows and labels) validate a whole file first, as pyarrow
tables, then hand the table here. The caller's transaction is used: nothing is committed here, so
a failure leaves nothing half-stored.

On PostgreSQL the table is written as CSV by pyarrow (C++, in blocks) and streamed into
`COPY … FROM STDIN (FORMAT csv)`: an unquoted empty field is NULL, a quoted one ("") an empty
string, which is what pyarrow writes for null and "". Floats are written in their shortest
round-trip form, timestamps as `2026-01-02 03:04:05.000000Z`.

A `COPY` that meets a unique violation aborts the transaction, so `insert_rows(..., conflict=…)`
first tries a plain `COPY` inside a savepoint and, only if a unique key was already taken, loads
the rows into a temporary table and inserts them with `ON CONFLICT (…) DO NOTHING`. Where a taken
key is an error rather than a duplicate to skip (monitoring's row ids), the caller looks the keys
up first with one query (`stored_rows`) and names the row.

On SQLite the connection's page cache is raised to 64 MiB for the write (`_sqlite_cache`; it
stays for the connection's life, and is only used as it fills).
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import IntegrityError, connection, transaction

BLOCK_ROWS = 65_536
SQLITE_CHUNK = 50_000
SQLITE_CACHE_KIB = 65_536


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def _csv_blocks(table: pa.Table):
    options = pacsv.WriteOptions(include_header=False, batch_size=BLOCK_ROWS)
    for start in range(0, table.num_rows, BLOCK_ROWS):
        sink = io.BytesIO()
        pacsv.write_csv(table.slice(start, BLOCK_ROWS), sink, options)
        yield sink.getbuffer()


def _copy(cursor, db_table: str, table: pa.Table) -> int:
    columns = ", ".join(_quoted(c) for c in table.column_names)
    # psycopg's copy() is not wrapped by Django: its errors become Django's (IntegrityError …) here.
    with connection.wrap_database_errors, cursor.copy(
            f"COPY {_quoted(db_table)} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for block in _csv_blocks(table):
            copy.write(block)
    return table.num_rows


def _temporary(cursor, db_table: str, table: pa.Table) -> str:
    """A temporary table with `table`'s columns typed as in `db_table` (no keys, no constraints),
    loaded by COPY; dropped at commit at the latest."""
    temp = f"_bulk_{db_table}"
    columns = ", ".join(_quoted(c) for c in table.column_names)
    cursor.execute(f"CREATE TEMPORARY TABLE {_quoted(temp)} ON COMMIT DROP AS "
                   f"SELECT {columns} FROM {_quoted(db_table)} WITH NO DATA")
    _copy(cursor, temp, table)
    return temp


def _sqlite_values(table: pa.Table) -> list:
    """Columns as Python values SQLite stores as Django does (timestamps as naive UTC text)."""
    out = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            text = pc.strftime(pc.cast(column, pa.timestamp("us", tz="UTC")), "%Y-%m-%d %H:%M:%S")
            # Django writes str(datetime): no fraction when the microseconds are zero.
            column = pc.replace_substring_regex(text, r"\.000000$", "")
        out.append(column.to_pylist())
    return out


def _sqlite_cache(cursor):
    """A page cache that holds the indexes being written (SQLite's default is 2 MB): inserting
    into six B-trees with a small cache reads the same pages again and again."""
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")


def insert_rows(db_table: str, table: pa.Table, *, conflict: tuple[str, ...] | None = None) -> int:
    """Insert every row of `table` (columns named as the database's) into `db_table`; returns the
    number stored. With `conflict` (a unique key's columns), rows whose key is already stored are
    skipped instead of failing."""
    if table.num_rows == 0:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if conflict is None:
                return _copy(cursor, db_table, table)
            try:
                with transaction.atomic():
                    return _copy(cursor, db_table, table)
            except IntegrityError:
                pass
            # Some keys were taken: COPY into a temporary table, then one INSERT that skips them.
            temp = _temporary(cursor, db_table, table)
            columns = ", ".join(_quoted(c) for c in table.column_names)
            keys = ", ".join(_quoted(c) for c in conflict)
            cursor.execute(f"INSERT INTO {_quoted(db_table)} ({columns}) SELECT {columns} FROM {_quoted(temp)} "
                           f"ON CONFLICT ({keys}) DO NOTHING")
            stored = cursor.rowcount
            cursor.execute(f"DROP TABLE {_quoted(temp)}")
            return stored
    columns = ", ".join(_quoted(c) for c in table.column_names)
    marks = ", ".join("%s" for _ in table.column_names)
    verb = "INSERT OR IGNORE" if conflict else "INSERT"
    sql = f"{verb} INTO {_quoted(db_table)} ({columns}) VALUES ({marks})"
    stored = 0
    with connection.cursor() as cursor:
        _sqlite_cache(cursor)
        for start in range(0, table.num_rows, SQLITE_CHUNK):
            values = _sqlite_values(table.slice(start, SQLITE_CHUNK))
            cursor.executemany(sql, list(zip(*values, strict=True)))
            stored += cursor.rowcount
    return stored


def update_from(db_table: str, table: pa.Table, *, key: tuple[str, ...], set_columns: tuple[str, ...],
                where: str = "") -> int:
    """`UPDATE db_table SET set_columns = the table's` for rows matching on `key`; `where` is an
    extra condition on the target (`t`). Returns the number of rows changed."""
    if table.num_rows == 0:
        return 0
    sets = ", ".join(f"{_quoted(c)} = s.{_quoted(c)}" for c in set_columns)
    match = " AND ".join(f"t.{_quoted(c)} = s.{_quoted(c)}" for c in key)
    extra = f" AND ({where})" if where else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            temp = _temporary(cursor, db_table, table)
            cursor.execute(f"UPDATE {_quoted(db_table)} AS t SET {sets} FROM {_quoted(temp)} AS s WHERE {match}{extra}")
            changed = cursor.rowcount
            cursor.execute(f"DROP TABLE {_quoted(temp)}")
            return changed
        sets = ", ".join(f"{_quoted(c)} = %s" for c in set_columns)
        match = " AND ".join(f"{_quoted(c)} = %s" for c in key)
        sql = f"UPDATE {_quoted(db_table)} AS t SET {sets} WHERE {match}{extra}"
        order = [*set_columns, *key]
        changed = 0
        for start in range(0, table.num_rows, SQLITE_CHUNK):
            values = _sqlite_values(table.select(order).slice(start, SQLITE_CHUNK))
            cursor.executemany(sql, list(zip(*values, strict=True)))
            changed += cursor.rowcount
        return changed


def stored_rows(db_table: str, key: str, values: pa.Array, columns: tuple[str, ...] = (), *,
                scope: tuple[str, object]) -> list[tuple]:
    """(key, *columns) of the stored rows whose `key` is one of `values`, among the rows where
    `scope[0] = scope[1]`: one query on PostgreSQL (an array parameter), chunked `IN` on SQLite."""
    scope_column, scope_value = scope
    values = pc.unique(values.drop_null()).to_pylist()
    if not values:
        return []
    select = ", ".join(_quoted(c) for c in (key, *columns))
    where = f"WHERE {_quoted(scope_column)} = %s AND {_quoted(key)}"
    found = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT {select} FROM {_quoted(db_table)} {where} = ANY(%s::text[])", [scope_value, values])
            return cursor.fetchall()
        for start in range(0, len(values), 900):
            chunk = values[start:start + 900]
            marks = ", ".join("%s" for _ in chunk)
            cursor.execute(f"SELECT {select} FROM {_quoted(db_table)} {where} IN ({marks})", [scope_value, *chunk])
            found.extend(cursor.fetchall())
    return found
