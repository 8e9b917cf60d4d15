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
