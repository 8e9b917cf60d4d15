"""Sufficient statistics computed by the database: counts, sums, sums of squares, rank sums.

The analysis reads only these aggregates; raw events never leave the database. Ranks are average
ranks over ties, computed on the distinct values (one row per value, with its multiplicity), so
the work is a GROUP BY plus a window over distinct values; for Mann–Whitney that same GROUP BY
also yields the per-arm moments, so the events are read once.

The SQL is written once for PostgreSQL and SQLite (the embedded default): standard `CAST`,
`CASE`, window functions and CTEs, no `::` casts or arrays; the one vendor difference, reading a
key of the JSON `metrics` column, goes through Django's JSON key transform. Rank sums and tie
terms are integer arithmetic (exact in both databases: doubled ranks are integers); value sums
are floating-point sums as the database computes them.

Every function takes a `Window`: the events an analysis may read (the planned horizon, see
`abtests.horizon`). `ALL` reads every event of the experiment.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Count, F, FloatField, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from .models import Event

T = Event._meta.db_table


@dataclass(frozen=True)
class Window:
    """Which events count: per arm (None: the one stream of a shadow experiment), the events up
    to and including the cut `(timestamp, id)` in event-time order; and, if `before` is set, only
    events timestamped before it. Arms without a cut are read whole."""

    cuts: dict = field(default_factory=dict)
    before: datetime | None = None

    @property
    def is_all(self) -> bool:
        return not self.cuts and self.before is None

    def sql(self) -> tuple[str, list]:
        """` AND …` restricting a query on the events table (unaliased columns), and its params."""
        adapt = connection.ops.adapt_datetimefield_value
        parts, params = [], []
        if self.before is not None:
            parts.append('"timestamp" < %s')
            params.append(adapt(self.before))
        for arm_id, (stamp, event_pk) in sorted(self.cuts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            before_cut = '("timestamp" < %s OR ("timestamp" = %s AND id <= %s))'
            cut_params = [adapt(stamp), adapt(stamp), event_pk]
            if arm_id is None:
                parts.append(before_cut)
                params += cut_params
            else:
                parts.append(f"(arm_id <> %s OR {before_cut})")
                params += [arm_id, *cut_params]
        return "".join(f" AND {p}" for p in parts), params

    def queryset(self, experiment_id: int):
        """The same restriction as an ORM queryset of the experiment's events."""
        qs = Event.objects.filter(experiment_id=experiment_id)
        if self.before is not None:
            qs = qs.filter(timestamp__lt=self.before)
        for arm_id, (stamp, event_pk) in self.cuts.items():
            within = Q(timestamp__lt=stamp) | Q(timestamp=stamp, pk__lte=event_pk)
            qs = qs.filter(within if arm_id is None else (~Q(arm_id=arm_id) | within))
        return qs


ALL = Window()


def _fetch(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def cut(experiment_id: int, arm_id: int | None, position: int, count: int, before: datetime | None = None):
    """`(timestamp, id)` of the `position`-th event (1-based, event-time order, ties by id) of an
    arm that holds `count` events (before `before`), or None when it holds no more than
    `position`. Walks the (experiment, arm, timestamp, id) index from whichever end is nearer."""
    if count <= position:
        return None
    qs = Event.objects.filter(experiment_id=experiment_id, arm_id=arm_id)
    if before is not None:
        qs = qs.filter(timestamp__lt=before)
    if position <= count - position:
        row = qs.order_by("timestamp", "id").values_list("timestamp", "id")[position - 1]
    else:
        row = qs.order_by("-timestamp", "-id").values_list("timestamp", "id")[count - position]
    return row


def arm_counts(experiment_id: int, before: datetime | None = None) -> dict:
    """Events per arm (None for a shadow experiment's single stream), optionally before a time."""
    qs = Event.objects.filter(experiment_id=experiment_id)
    if before is not None:
        qs = qs.filter(timestamp__lt=before)
    return dict(qs.order_by().values_list("arm_id").annotate(n=Count("pk")))


def arm_moments(experiment_id: int, window: Window = ALL) -> dict[int, dict]:
    """Per arm: exposures (rows), n (rows with a value), sum and sum of squares of `value`."""
    where, params = window.sql()
    rows = _fetch(
        f"SELECT arm_id, COUNT(*), COUNT(value), COALESCE(SUM(value), 0), COALESCE(SUM(value * value), 0) "
        f"FROM {T} WHERE experiment_id = %s{where} GROUP BY arm_id",
        [experiment_id, *params],
    )
    return {r[0]: {"exposures": r[1], "n": r[2], "sum": float(r[3]), "sumsq": float(r[4])} for r in rows}


def metric_moments(experiment_id: int, metric: str, window: Window = ALL) -> dict[int, dict]:
    """Per arm n, sum and sum of squares of a secondary metric stored in `metrics` (the JSON key
    read as text and cast to a float: `->>` on PostgreSQL, `JSON_EXTRACT` on SQLite)."""
    values = window.queryset(experiment_id).annotate(v=Cast(KeyTextTransform(metric, "metrics"), FloatField()))
    rows = values.order_by().values("arm_id").annotate(n=Count("v"), s=Sum("v"), ss=Sum(F("v") * F("v")))
    return {r["arm_id"]: {"n": r["n"], "sum": float(r["s"] or 0), "sumsq": float(r["ss"] or 0)} for r in rows}


def arm_moments_with_rank_sums(
    experiment_id: int, control_id: int, arm_ids: list[int], window: Window = ALL
) -> tuple[dict, dict]:
    """`arm_moments`, and the Mann–Whitney inputs of control against each arm in `arm_ids`, from
    one pass over the events.

    The events are grouped once by (value, arm); moments are Σc, Σc·v and Σc·v² over those groups
    (rows with no value count as exposures only), and each pair's ranks come from the same groups:
    a value's average rank in the pooled pair is the count of smaller values + (t + 1)/2, with t
    its count in both arms. Returns ({arm: moments}, {arm: {"rank_sum_a": rank sum of control,
    "tie_term": sum(t³ − t)}}); rank sums are computed doubled, as integers, then halved.
    """
    if not arm_ids:
        return arm_moments(experiment_id, window), {}
    where, params = window.sql()
    pairs = " UNION ALL ".join(["SELECT CAST(%s AS BIGINT)"] * len(arm_ids))
    rows = _fetch(
        f"""
        WITH b(arm) AS ({pairs}),
        g AS (
            SELECT arm_id, value, COUNT(*) AS c FROM {T} WHERE experiment_id = %s{where} GROUP BY value, arm_id
        ), m AS (
            SELECT arm_id, SUM(c) AS exposures,
                   COALESCE(SUM(CASE WHEN value IS NOT NULL THEN c ELSE 0 END), 0) AS n,
                   COALESCE(SUM(c * value), 0) AS s, COALESCE(SUM(c * value * value), 0) AS ss
            FROM g GROUP BY arm_id
        ), p AS (
            SELECT b.arm AS arm_id, g.value, SUM(g.c) AS t,
                   COALESCE(SUM(CASE WHEN g.arm_id = %s THEN g.c ELSE 0 END), 0) AS c_a
            FROM g JOIN b ON g.arm_id IN (%s, b.arm)
            WHERE g.value IS NOT NULL
            GROUP BY b.arm, g.value
        ), r AS (
            SELECT arm_id, t, c_a, SUM(t) OVER (PARTITION BY arm_id ORDER BY value) - t AS below FROM p
        ), k AS (
            SELECT arm_id, SUM(c_a * (2 * below + t + 1)) AS rank_sum_a_x2, SUM(t * t * t - t) AS tie FROM r
            GROUP BY arm_id
        )
        SELECT m.arm_id, m.exposures, m.n, m.s, m.ss, k.rank_sum_a_x2, k.tie FROM m LEFT JOIN k ON k.arm_id = m.arm_id
        """,
        [*arm_ids, experiment_id, *params, control_id, control_id],
    )
    moments = {
        r[0]: {"exposures": int(r[1]), "n": int(r[2]), "sum": float(r[3]), "sumsq": float(r[4])} for r in rows
    }
    ranks = {r[0]: {"rank_sum_a": int(r[5]) / 2, "tie_term": float(r[6])} for r in rows if r[5] is not None}
    return moments, ranks


def paired_moments(experiment_id: int, window: Window = ALL) -> dict:
    """Shadow scoring: rows, complete pairs, and on d = challenger − champion: n, sum, sum of
    squares; McNemar's discordant counts b (champion 1, challenger 0) and c (0, 1)."""
    where, params = window.sql()
    (row,) = _fetch(
        f"""
        SELECT COUNT(*),
               COALESCE(SUM(CASE WHEN champion_value IS NOT NULL AND challenger_value IS NOT NULL THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(challenger_value - champion_value), 0),
               COALESCE(SUM((challenger_value - champion_value) * (challenger_value - champion_value)), 0),
               COALESCE(SUM(CASE WHEN champion_value = 1 AND challenger_value = 0 THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(CASE WHEN champion_value = 0 AND challenger_value = 1 THEN 1 ELSE 0 END), 0)
        FROM {T} WHERE experiment_id = %s{where}
        """,
        [experiment_id, *params],
    )
    return {"rows": int(row[0]), "n": int(row[1]), "sum": float(row[2]), "sumsq": float(row[3]),
            "b": int(row[4]), "c": int(row[5])}


def signed_ranks(experiment_id: int, window: Window = ALL) -> dict:
    """Wilcoxon inputs on d = challenger − champion: non-zero differences, W+ (sum of the average
    ranks of |d| over positive d) and the tie term sum(t³ − t) over groups of equal |d|."""
    where, params = window.sql()
    (row,) = _fetch(
        f"""
        WITH d AS (
            SELECT challenger_value - champion_value AS d FROM {T}
            WHERE experiment_id = %s AND champion_value IS NOT NULL AND challenger_value IS NOT NULL{where}
        ), g AS (
            SELECT ABS(d) AS a, COUNT(*) AS t, SUM(CASE WHEN d > 0 THEN 1 ELSE 0 END) AS p
            FROM d WHERE d <> 0 GROUP BY ABS(d)
        ), r AS (
            SELECT t, p, SUM(t) OVER (ORDER BY a) - t AS below FROM g
        )
        SELECT COALESCE(SUM(t), 0), COALESCE(SUM(p * (2 * below + t + 1)), 0), COALESCE(SUM(t * t * t - t), 0)
        FROM r
        """,
        [experiment_id, *params],
    )
    return {"n_nonzero": int(row[0]), "w_plus": int(row[1]) / 2, "tie_term": float(row[2])}
