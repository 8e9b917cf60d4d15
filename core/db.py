"""Fixed-shape SQL that every API request runs (token lookup, hot reads), prepared on PostgreSQL.

Planning these statements cost PostgreSQL more than running them (0.1–0.3 ms against
0.01–0.1 ms, `EXPLAIN ANALYZE` on 10,000 models; docs/benchmarks.md). Django turns psycopg's
automatic preparation off (it would break transaction-mode connection poolers, which Steward's
deployment does not use: each web process keeps its own connections, docs/operations.md); here
the statement is bound on the server and prepared once per connection (psycopg keeps the 100 most
recent). Queries still go through Django's cursor wrapper: its error translation, its query log
(tests count them) and any execute wrapper. SQLite runs them as they are.
"""

import psycopg
from django.db import connection
from django.db.models import BigIntegerField, Func


class _PreparedCursor(psycopg.Cursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        super().execute(query, params, prepare=True, binary=binary)
        if connection.queries_logged:
            # Django's query log (DEBUG, tests' query captures) reads the statement's text from
            # `_query`, which psycopg fills only for client-side binding.
            self._query = self._convert_query(query, params)
        return self


def rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = connection.connection
            if raw.prepare_threshold is None:
                # Django's None turns preparation off altogether, `prepare=True` included. Only
                # server-binding cursors ever prepare, and Django's own bind on the client.
                raw.prepare_threshold = 2**31 - 1
            cursor.cursor.close()
            cursor.cursor = _PreparedCursor(raw)
        cursor.execute(sql, params)
        return cursor.fetchall()


def any_of(column: str, values) -> tuple[str, list]:
    """`column IN (…)` for these values, as SQL and its parameters. On PostgreSQL one array
    parameter (`column = ANY(%s)`): the statement's text is then the same for any number of
    values, so it is prepared once, and psycopg caches its parsing (which it does only for
    statements of at most 50 parameters: parsing a 100-value list cost more than running it).
    Elsewhere a placeholder per value."""
    values = list(values)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def epoch_ms_sql(column: str, vendor: str) -> str:
    """SQL for a timestamp column as whole milliseconds since 1970 (MLflow's timestamps), so no
    row's timestamp is parsed into a `datetime` only to be turned into a number again. SQLite
    stores Django's timestamps as UTC text (`2026-11-30 14:00:00[.ffffff]`): the whole seconds
    through `julianday` (exact to well under a millisecond), the milliseconds from the text."""
    if vendor == "postgresql":
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)"
    return (f"(CAST(ROUND((julianday(substr({column}, 1, 19)) - 2440587.5) * 86400) AS INTEGER) * 1000 "
            f"+ CAST(substr({column} || '.000', 21, 3) AS INTEGER))")


class EpochMs(Func):
    """`epoch_ms_sql` as an ORM expression: `.annotate(created_ms=EpochMs("created_at"))`."""

    output_field = BigIntegerField()

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        sql = epoch_ms_sql(column, connection.vendor)
        return sql, tuple(params) * sql.count(column)
