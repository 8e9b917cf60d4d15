"""The planned horizon and the planned looks: which events an analysis may read.

One verdict per planned look. A fixed-horizon experiment is analysed on the first planned units
of each arm, in event-time order (`timestamp`, ties by id); a group-sequential one at each planned
look k of K on the first ceil(k/K × planned) units of each arm. Events past the horizon are kept
and counted, but an analysis run later reads the same events and gives the same verdict. When the
planned duration passes first, the horizon is the planned end: events timestamped after it stay
out too.

Planned arm sizes come from `stats.allocate_sample_size` — the rule the plan used.
"""

import math
from datetime import timedelta

from django.utils import timezone

from . import aggregates, stats
from .models import Experiment


def planned_arm_sizes(exp: Experiment, arms=None) -> list[int]:
    """Units each arm needs at the horizon, control first. Shadow experiments have one stream of
    `total_n` pairs."""
    if exp.kind == Experiment.Kind.SHADOW:
        return [exp.total_n]
    arms = list(exp.arms.order_by("position")) if arms is None else arms
    if not exp.n_per_arm or len(arms) < 2:
        return [0] * len(arms)
    return list(stats.allocate_sample_size(exp.n_per_arm, [a.weight for a in arms])[1])


def look_quota(planned: int, look: int, looks: int) -> int:
    """Units an arm needs at look `look` of `looks` (the last look is the full horizon)."""
    return math.ceil(planned * look / looks)


def looks_reached(planned: list[int], have: list[int], looks: int) -> int:
    """The last planned look (of `looks`) at which every arm holds its quota; 0 if none."""
    reached = 0
    for k in range(1, looks + 1):
        if all(p > 0 and h >= look_quota(p, k, looks) for h, p in zip(have, planned, strict=True)):
            reached = k
    return reached


def planned_end(exp: Experiment):
    """The planned end in time (start + planned days), or None."""
    if exp.started_at is None or exp.days is None:
        return None
    return exp.started_at + timedelta(days=exp.days)


def horizon(exp: Experiment, *, counts: dict | None = None, arms=None) -> dict:
    """Progress towards the planned horizon (one GROUP BY query, none when the caller already
    counted the events per arm, as the analysis does in its aggregate).

    `counts`: events per arm id (key None for a shadow experiment's single stream). The horizon
    is reached when every arm holds its planned units, or when the planned duration has passed.
    `look` is the last planned look every arm has reached (group-sequential designs).
    """
    arms = list(exp.arms.order_by("position")) if arms is None else arms
    if counts is None:
        counts = aggregates.arm_counts(exp.pk) if exp.started_at else {}
    shadow = exp.kind == Experiment.Kind.SHADOW
    keys = [None] if shadow else [a.pk for a in arms]
    names = ["pairs"] if shadow else [a.name for a in arms]
    planned = planned_arm_sizes(exp, arms)
    have = [int(counts.get(k, 0)) for k in keys]
    units = int(sum(counts.values()))
    now = timezone.now()
    elapsed = (now - exp.started_at).total_seconds() / 86400 if exp.started_at else 0.0
    end = planned_end(exp)
    by_n = bool(planned) and all(p > 0 and h >= p for h, p in zip(have, planned, strict=True))
    by_days = end is not None and now >= end
    sequential = exp.sequential == Experiment.Sequential.OBF and exp.looks
    looks = exp.looks if sequential else 1
    look = looks_reached(planned, have, looks)
    total_planned = sum(planned)
    return {
        "units": units,
        "planned_units": exp.total_n,
        "fraction": (sum(min(h, p) for h, p in zip(have, planned, strict=True)) / total_planned) if total_planned else 0.0,
        "elapsed_days": round(elapsed, 3),
        "planned_days": exp.days,
        "reached": bool(by_n or by_days),
        "reached_by": "units" if by_n else ("days" if by_days else None),
        "end": end.isoformat() if end else None,
        "ended": bool(by_days),
        "look": look if sequential else None,
        "looks": exp.looks if sequential else None,
        "arms": [
            {"key": k, "name": n, "n": h, "planned": p, "past_horizon": max(0, h - p)}
            for k, n, h, p in zip(keys, names, have, planned, strict=True)
        ],
    }
