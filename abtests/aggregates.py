"""Sufficient statistics computed by PostgreSQL: counts, sums, sums of squares, rank sums.

The analysis reads only these aggregates; raw events never leave the database. Ranks are average
ranks over ties, computed on the distinct values (one row per value, with its multiplicity), so
the work is a GROUP BY plus a window over distinct values; for Mann–Whitney that same GROUP BY
also yields the per-arm moments, so the events are read once. Rank sums and tie terms use exact
`numeric` arithmetic; value sums are `float8` sums as the database computes them.
"""

from django.db import connection

from .models import Event

T = Event._meta.db_table


def _fetch(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def arm_moments(experiment_id: int) -> dict[int, dict]:
    """Per arm: exposures (rows), n (rows with a value), sum and sum of squares of `value`."""
    rows = _fetch(
        f"SELECT arm_id, COUNT(*), COUNT(value), COALESCE(SUM(value), 0), COALESCE(SUM(value * value), 0) "
        f"FROM {T} WHERE experiment_id = %s GROUP BY arm_id",
        [experiment_id],
    )
    return {r[0]: {"exposures": r[1], "n": r[2], "sum": float(r[3]), "sumsq": float(r[4])} for r in rows}


def metric_moments(experiment_id: int, metric: str) -> dict[int, dict]:
    """Per arm n, sum and sum of squares of a secondary metric stored in `metrics`."""
    rows = _fetch(
        f"SELECT arm_id, COUNT(v), COALESCE(SUM(v), 0), COALESCE(SUM(v * v), 0) FROM "
        f"(SELECT arm_id, (metrics ->> %s)::float8 AS v FROM {T} WHERE experiment_id = %s) s GROUP BY arm_id",
        [metric, experiment_id],
    )
    return {r[0]: {"n": r[1], "sum": float(r[2]), "sumsq": float(r[3])} for r in rows}


def arm_moments_with_rank_sums(experiment_id: int, control_id: int, arm_ids: list[int]) -> tuple[dict, dict]:
    """`arm_moments`, and the Mann–Whitney inputs of control against each arm in `arm_ids`, from
    one pass over the events.

    The events are grouped once by (value, arm); moments are Σc, Σc·v and Σc·v² over those groups
    (rows with no value count as exposures only), and each pair's ranks come from the same groups:
    a value's average rank in the pooled pair is the count of smaller values + (t + 1)/2, with t
    its count in both arms. Returns ({arm: moments}, {arm: {"rank_sum_a": rank sum of control,
    "tie_term": sum(t³ − t)}}); rank sums are computed doubled, in exact `numeric`, then halved.
    """
    rows = _fetch(
        f"""
        WITH g AS (
            SELECT arm_id, value, COUNT(*) AS c FROM {T} WHERE experiment_id = %s GROUP BY value, arm_id
        ), m AS (
            SELECT arm_id, SUM(c) AS exposures, COALESCE(SUM(c) FILTER (WHERE value IS NOT NULL), 0) AS n,
                   COALESCE(SUM(c * value), 0) AS s, COALESCE(SUM(c * value * value), 0) AS ss
            FROM g GROUP BY arm_id
        ), p AS (
            SELECT b.arm AS arm_id, g.value, SUM(g.c) AS t,
                   COALESCE(SUM(g.c) FILTER (WHERE g.arm_id = %s), 0) AS c_a
            FROM g JOIN unnest(%s::bigint[]) AS b(arm) ON g.arm_id IN (%s, b.arm)
            WHERE g.value IS NOT NULL
            GROUP BY b.arm, g.value
        ), r AS (
            SELECT arm_id, t, c_a, SUM(t) OVER (PARTITION BY arm_id ORDER BY value) - t AS below FROM p
        ), k AS (
            SELECT arm_id, SUM(c_a * (2 * below + t + 1)) AS rank_sum_a_x2, SUM(t * t * t - t) AS tie FROM r
            GROUP BY arm_id
        )
        SELECT m.arm_id, m.exposures, m.n, m.s, m.ss, k.rank_sum_a_x2, k.tie FROM m LEFT JOIN k USING (arm_id)
        """,
        [experiment_id, control_id, list(arm_ids), control_id],
    )
    moments = {
        r[0]: {"exposures": int(r[1]), "n": int(r[2]), "sum": float(r[3]), "sumsq": float(r[4])} for r in rows
    }
    ranks = {r[0]: {"rank_sum_a": float(r[5] / 2), "tie_term": float(r[6])} for r in rows if r[5] is not None}
    return moments, ranks


def paired_moments(experiment_id: int) -> dict:
    """Shadow scoring: rows, complete pairs, and on d = challenger − champion: n, sum, sum of
    squares; McNemar's discordant counts b (champion 1, challenger 0) and c (0, 1)."""
    (row,) = _fetch(
        f"""
        SELECT COUNT(*),
               COUNT(*) FILTER (WHERE champion_value IS NOT NULL AND challenger_value IS NOT NULL),
               COALESCE(SUM(challenger_value - champion_value), 0),
               COALESCE(SUM((challenger_value - champion_value) * (challenger_value - champion_value)), 0),
               COUNT(*) FILTER (WHERE champion_value = 1 AND challenger_value = 0),
               COUNT(*) FILTER (WHERE champion_value = 0 AND challenger_value = 1)
        FROM {T} WHERE experiment_id = %s
        """,
        [experiment_id],
    )
    return {"rows": row[0], "n": row[1], "sum": float(row[2]), "sumsq": float(row[3]), "b": row[4], "c": row[5]}


def signed_ranks(experiment_id: int) -> dict:
    """Wilcoxon inputs on d = challenger − champion: non-zero differences, W+ (sum of the average
    ranks of |d| over positive d) and the tie term sum(t³ − t) over groups of equal |d|."""
    (row,) = _fetch(
        f"""
        WITH d AS (
            SELECT challenger_value - champion_value AS d FROM {T}
            WHERE experiment_id = %s AND champion_value IS NOT NULL AND challenger_value IS NOT NULL
        ), g AS (
            SELECT abs(d) AS a, COUNT(*) AS t, COUNT(*) FILTER (WHERE d > 0) AS p
            FROM d WHERE d <> 0 GROUP BY abs(d)
        ), r AS (
            SELECT t, p, SUM(t) OVER (ORDER BY a) - t AS below FROM g
        )
        SELECT COALESCE(SUM(t), 0), COALESCE(SUM(p * (below + (t + 1) / 2.0)), 0),
               COALESCE(SUM(t * t * t - t), 0)
        FROM r
        """,
        [experiment_id],
    )
    return {"n_nonzero": int(row[0]), "w_plus": float(row[1]), "tie_term": float(row[2])}
