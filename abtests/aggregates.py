"""Sufficient statistics computed by PostgreSQL: counts, sums, sums of squares, rank sums.

The analysis reads only these aggregates; raw events never leave the database. Ranks are average
ranks over ties, computed on the distinct values (one row per value, with its multiplicity), so
the work is a GROUP BY plus a window over distinct values. Rank sums and tie terms use exact
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


def rank_sums(experiment_id: int, arm_a: int, arm_b: int) -> dict:
    """Mann–Whitney inputs for two arms: n per arm, rank sum of arm a (average ranks over the
    pooled sample), and the tie term sum(t³ − t) over groups of equal values."""
    rows = _fetch(
        f"""
        WITH g AS (
            SELECT value, arm_id, COUNT(*) AS c FROM {T}
            WHERE experiment_id = %s AND arm_id IN (%s, %s) AND value IS NOT NULL
            GROUP BY value, arm_id
        ), v AS (
            SELECT value, SUM(c) AS t FROM g GROUP BY value
        ), r AS (
            SELECT value, t, SUM(t) OVER (ORDER BY value) - t AS below FROM v
        )
        SELECT g.arm_id, SUM(g.c), SUM(g.c * (r.below + (r.t + 1) / 2.0)),
               (SELECT COALESCE(SUM(t * t * t - t), 0) FROM v)
        FROM g JOIN r ON r.value = g.value GROUP BY g.arm_id
        """,
        [experiment_id, arm_a, arm_b],
    )
    out = {"n_a": 0, "n_b": 0, "rank_sum_a": 0.0, "tie_term": 0.0}
    for arm_id, n, rank_sum, tie in rows:
        out["tie_term"] = float(tie)
        if arm_id == arm_a:
            out["n_a"], out["rank_sum_a"] = int(n), float(rank_sum)
        else:
            out["n_b"] = int(n)
    return out


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
