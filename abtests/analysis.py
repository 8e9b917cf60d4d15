"""One analysis of an experiment: data quality first, then the pre-registered test.

Reads only database aggregates (`aggregates.py`) and calls the pure statistics (`stats.py`).
Before the planned horizon, or after an early stop, a fixed-horizon design answers progress and
data quality only (`interim`, no decision fields). A group-sequential design is tested at each
planned look reached, against its O'Brien–Fleming boundary.
"""

import functools
import hashlib
import math
import subprocess
from importlib import metadata
from pathlib import Path

from django.db.models import Count, Sum

from . import aggregates, stats
from . import horizon as horizon_mod
from .models import Analysis, EventBatch, Experiment

T = Experiment.Test


@functools.cache
def code_version() -> dict:
    """What computed the numbers: package version, git commit if known, hash of stats.py."""
    stats_path = Path(stats.__file__)
    try:
        package = metadata.version("steward")
    except metadata.PackageNotFoundError:
        package = ""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=stats_path.parent, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "package": package,
        "git_commit": commit,
        "stats_sha256": hashlib.sha256(stats_path.read_bytes()).hexdigest(),
    }


def _num(x):
    """JSON-safe number: infinite interval ends (one-sided CIs) become null."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _pair(ci):
    return None if ci is None else [_num(ci[0]), _num(ci[1])]


def _favour(exp: Experiment, result: stats.HypothesisTestResult) -> bool | None:
    """Whether the effect points the way the goal metric's direction calls better."""
    if result.effect_absolute is None:
        return None
    # Mann–Whitney reports P(B > A) + P(B = A)/2, whose "no effect" value is 1/2.
    centre = 0.5 if result.test.lower().startswith("mann") else 0.0
    delta = result.effect_absolute - centre
    return delta > 0 if exp.direction == Experiment.Direction.INCREASE else delta < 0


def _result(result: stats.HypothesisTestResult, *, metric: str, role: str, n: dict, power=None) -> dict:
    return {
        "metric": metric,
        "role": role,
        "test": result.test,
        "alternative": result.alternative,
        "statistic": _num(result.statistic),
        "statistic_name": result.statistic_name,
        "df": _num(result.df),
        "p_value": _num(result.p_value),
        "effect_label": result.effect_label,
        "effect_absolute": _num(result.effect_absolute),
        "ci_absolute": _pair(result.ci_absolute),
        "effect_relative": _num(result.effect_relative),
        "ci_relative": _pair(result.ci_relative),
        "confidence_level": _num(result.confidence_level),
        "n": n,
        "achieved_power": _num(power),
        "conventions": result.conventions,
    }


def _ab_primary(exp, control, arm, moments, ranks) -> tuple[stats.HypothesisTestResult, float | None, dict]:
    a, b = moments.get(control.pk, {}), moments.get(arm.pk, {})
    n_a, n_b = a.get("n", 0), b.get("n", 0)
    n = {control.name: n_a, arm.name: n_b}
    alt, alpha = exp.alternative, exp.alpha
    if exp.test == T.TWO_PROPORTION_Z:
        x_a, x_b = round(a.get("sum", 0)), round(b.get("sum", 0))
        res = stats.two_proportion_ztest(n_a, x_a, n_b, x_b, alternative=alt, alpha=alpha)
        power = stats.achieved_power_proportions(n_a, x_a, n_b, x_b, alpha=alpha, alternative=alt).power
    elif exp.test == T.WELCH_T:
        args = (n_a, a.get("sum", 0.0), a.get("sumsq", 0.0), n_b, b.get("sum", 0.0), b.get("sumsq", 0.0))
        res = stats.welch_ttest(*args, alternative=alt, alpha=alpha)
        power = stats.achieved_power_means(*args, alpha=alpha, alternative=alt).power
    else:
        r = ranks.get(arm.pk, {})
        res = stats.mann_whitney_u(n_a, n_b, r.get("rank_sum_a", 0.0), r.get("tie_term", 0.0), alternative=alt)
        power = None  # no closed form from sufficient statistics; not reported
    return res, power, n


def _shadow_primary(exp, champion, challenger, paired, window) -> tuple[stats.HypothesisTestResult, dict]:
    n = {champion.name: paired["n"], challenger.name: paired["n"]}
    if exp.test == T.MCNEMAR:
        res = stats.mcnemar_test(paired["b"], paired["c"], n_pairs=paired["n"], alpha=exp.alpha)
    elif exp.test == T.PAIRED_T:
        res = stats.paired_ttest(paired["n"], paired["sum"], paired["sumsq"], alternative=exp.alternative, alpha=exp.alpha)
    else:
        ranks = aggregates.signed_ranks(exp.pk, window)
        res = stats.wilcoxon_signed_rank(ranks["n_nonzero"], ranks["w_plus"], ranks["tie_term"], alternative=exp.alternative)
    return res, n


def data_quality(exp: Experiment, arms, moments) -> tuple[dict, dict]:
    """`moments` are the per-arm moments (A/B) or the paired moments (shadow): counts, missing
    values and SRM come from the same aggregate as the test, so the events are read once."""
    batches = EventBatch.objects.filter(experiment=exp).aggregate(
        uploaded=Sum("rows"), kept=Sum("stored"), batch_count=Count("id")
    )
    batches["duplicates"] = (batches["uploaded"] or 0) - (batches["kept"] or 0)
    warnings = []
    dq = {"srm_p_value": None, "srm_statistic": None, "srm_detected": False, "srm_threshold": stats.SRM_P_THRESHOLD}
    if exp.kind == Experiment.Kind.AB:
        observed = [moments.get(a.pk, {}).get("exposures", 0) for a in arms]
        missing = sum(moments.get(a.pk, {}).get("exposures", 0) - moments.get(a.pk, {}).get("n", 0) for a in arms)
        empty = [a.name for a, o in zip(arms, observed, strict=True) if o == 0]
        dq["observed"] = {a.name: o for a, o in zip(arms, observed, strict=True)}
        if sum(observed) > 0:
            srm = stats.srm_chisquare(observed, [a.weight for a in arms])
            dq.update(
                srm_p_value=srm.p_value, srm_statistic=srm.statistic, srm_detected=srm.srm_detected,
                expected={a.name: e for a, e in zip(arms, srm.expected, strict=True)}, srm_conventions=srm.conventions,
            )
            if srm.srm_detected:
                warnings.append(
                    f"Sample ratio mismatch: the arms' sizes do not fit the planned allocation (p = {srm.p_value:.2g}"
                    f" < {stats.SRM_P_THRESHOLD}). Assignment or logging is probably broken; do not trust the result."
                )
        units = sum(m["exposures"] for m in moments.values())
    else:
        paired = moments
        missing, units = paired["rows"] - paired["n"], paired["rows"]
        empty = [a.name for a in arms] if paired["n"] == 0 else []
    dq.update(
        duplicate_events=int(batches["duplicates"] or 0), missing_values=int(missing), arms_without_data=empty,
    )
    if dq["duplicate_events"]:
        warnings.append(f"{dq['duplicate_events']} uploaded event(s) repeated an event id already stored and were ignored.")
    if missing:
        warnings.append(f"{missing} event(s) have no value for the goal metric and are left out of the test.")
    if empty:
        warnings.append(f"No data yet for: {', '.join(empty)}.")
    dq["warnings"] = warnings
    counts = {"events": units, "rows_uploaded": int(batches["uploaded"] or 0), "batches": batches["batch_count"]}
    return dq, counts


def _moments(exp: Experiment, arms, window) -> tuple[dict, dict]:
    """The aggregate the test reads, over `window`: (per-arm or paired moments, Mann–Whitney ranks)."""
    if exp.kind == Experiment.Kind.SHADOW:
        return aggregates.paired_moments(exp.pk, window), {}
    if exp.test == T.MANN_WHITNEY_U:
        return aggregates.arm_moments_with_rank_sums(exp.pk, arms[0].pk, [a.pk for a in arms[1:]], window)
    return aggregates.arm_moments(exp.pk, window), {}


def _window(exp: Experiment, quotas: dict, counts: dict, before) -> aggregates.Window:
    """The first `quotas[arm]` events of each arm in event-time order (before `before`, if set);
    `counts` are the arms' events (before `before`)."""
    cuts = {}
    for key, quota in quotas.items():
        found = aggregates.cut(exp.pk, key, quota, counts.get(key, 0), before)
        if found is not None:
            cuts[key] = found
    return aggregates.Window(cuts, before)


def _looks(exp: Experiment, progress: dict, counts: dict) -> list[dict]:
    """The planned looks reached, each with the events it reads: a fixed horizon has one look
    (the horizon), a group-sequential design looks k = 1..K. Once the planned duration has
    passed, only events timestamped before its end count, and the end is the final look."""
    sequential = exp.sequential == Experiment.Sequential.OBF
    looks = exp.looks if sequential else 1
    arms = progress["arms"]
    before = horizon_mod.planned_end(exp) if progress["ended"] else None
    within = aggregates.arm_counts(exp.pk, before=before) if before is not None else counts
    planned = [a["planned"] for a in arms]
    reached = horizon_mod.looks_reached(planned, [int(within.get(a["key"], 0)) for a in arms], looks)
    out = []
    for k in range(1, reached + 1):
        quotas = {a["key"]: horizon_mod.look_quota(a["planned"], k, looks) for a in arms}
        out.append({"look": k, "quotas": quotas, "window": _window(exp, quotas, within, before)})
    if before is not None and reached < looks:
        # The planned duration ended first: the final look reads what arrived before the end.
        quotas = {a["key"]: a["planned"] for a in arms}
        out.append({"look": looks, "quotas": quotas, "window": _window(exp, quotas, within, before)})
    return out


def _primaries(exp, arms, moments, ranks, window) -> list[tuple]:
    """(challenger arm, result, achieved power, n) of each primary comparison on one look's data."""
    if exp.kind == Experiment.Kind.SHADOW:
        res, n = _shadow_primary(exp, arms[0], arms[1], moments, window)
        return [(arms[1], res, None, n)]
    return [(arm, *_ab_primary(exp, arms[0], arm, moments, ranks)) for arm in arms[1:]]


def _secondaries(exp, control, arm, window) -> list[dict]:
    secondary = []
    for spec in exp.secondary_metrics or []:
        mm = aggregates.metric_moments(exp.pk, spec["name"], window)
        a, b = mm.get(control.pk, {}), mm.get(arm.pk, {})
        n2 = {control.name: a.get("n", 0), arm.name: b.get("n", 0)}
        if spec["type"] == Experiment.MetricType.BINARY:
            r2 = stats.two_proportion_ztest(n2[control.name], round(a.get("sum", 0)), n2[arm.name], round(b.get("sum", 0)),
                                            alpha=exp.alpha)
        else:
            r2 = stats.welch_ttest(n2[control.name], a.get("sum", 0.0), a.get("sumsq", 0.0),
                                   n2[arm.name], b.get("sum", 0.0), b.get("sumsq", 0.0), alpha=exp.alpha)
        secondary.append(_result(r2, metric=spec["name"], role="secondary", n=n2) | {"arm": arm.name, "control": control.name})
    if secondary:
        adjusted = stats.holm([m["p_value"] for m in secondary], alpha=exp.alpha)
        for m, p_adj, rej in zip(secondary, adjusted.adjusted_p_values, adjusted.reject, strict=True):
            m.update(p_value_holm=p_adj, significant=bool(rej), holm_conventions=adjusted.conventions)
    return secondary


def _window_summary(exp, arms, progress, look, moments) -> dict:
    """Per arm: the units the verdict reads and those past the horizon (kept, not read)."""
    if exp.kind == Experiment.Kind.SHADOW:
        read = {None: moments["rows"]}
    else:
        read = {a.pk: moments.get(a.pk, {}).get("exposures", 0) for a in arms}
    return {
        "look": look["look"],
        "arms": [{"name": a["name"], "planned": look["quotas"][a["key"]], "analysed": read.get(a["key"], 0),
                  "past_horizon": max(0, a["n"] - read.get(a["key"], 0))} for a in progress["arms"]],
        "rule": "The first planned units of each arm in event-time order (timestamp, then upload order); "
                "events past the horizon are kept and shown but do not change the verdict.",
    }


def analyse(exp: Experiment) -> tuple[str, dict, dict, dict]:
    arms = list(exp.arms.order_by("position"))
    # One pass over all the events: data quality and progress come from this aggregate, and so
    # does the test when no event lies past the horizon (Mann–Whitney gets its moments and ranks
    # from one GROUP BY value, arm_id). Past the horizon, the planned look is read again.
    everything, all_ranks = _moments(exp, arms, aggregates.ALL)
    if exp.kind == Experiment.Kind.SHADOW:
        counts = {None: everything["rows"]}
    else:
        counts = {k: m["exposures"] for k, m in everything.items()}
    dq, input_counts = data_quality(exp, arms, everything)
    if exp.kind == Experiment.Kind.AB:
        input_counts["per_arm"] = {a.name: everything.get(a.pk, {"exposures": 0, "n": 0}) for a in arms}
    progress = horizon_mod.horizon(exp, counts=counts, arms=arms)
    results = {"progress": progress, "data_quality": dq, "stopped_early": exp.stopped_early, "metrics": []}
    looks = [] if exp.stopped_early else _looks(exp, progress, counts)
    if not looks:
        results["note"] = (
            "Stopped early: recorded as such; no significance verdict is given." if exp.stopped_early
            else "The planned horizon is not reached: progress and data quality only, no verdict yet."
        )
        return Analysis.Status.INTERIM, results, input_counts, code_version()

    sequential = exp.sequential == Experiment.Sequential.OBF
    K = exp.looks if sequential else 1
    fractions = [k / K for k in range(1, K + 1)]

    @functools.cache
    def thresholds(level: float) -> list[float]:
        if not sequential:
            return [level]
        return list(stats.obrien_fleming_boundaries(fractions, alpha=level, alternative=exp.alternative).nominal_p_values)

    tested = []  # per look reached: (look, moments, ranks, primaries)
    for look in looks:
        moments, ranks = (everything, all_ranks) if look["window"].is_all else _moments(exp, arms, look["window"])
        tested.append((look, moments, ranks, _primaries(exp, arms, moments, ranks, look["window"])))
    # Holm over the challengers (one look: Holm's step-down; several looks: Holm with
    # O'Brien–Fleming thresholds at each Holm level, deciding at the first look that rejects).
    p_by_look = [[res.p_value for _, res, _, _ in primaries] for *_, primaries in tested]
    stop, rejected, levels = stats.holm_group_sequential(p_by_look, thresholds, alpha=exp.alpha)
    final = looks[-1]["look"] == K
    index = stop if stop is not None else len(tested) - 1
    look, moments, ranks, primaries = tested[index]
    adjusted = stats.holm([res.p_value for _, res, _, _ in primaries], alpha=exp.alpha)
    results["horizon"] = _window_summary(exp, arms, progress, look, moments)
    results["multiplicity"] = {
        "comparisons": len(primaries),
        "method": "holm" if len(primaries) > 1 else "none",
        "conventions": (
            (f"Holm over the {len(primaries)} primary comparisons with the control (as statsmodels "
             "multipletests method='holm'); " if len(primaries) > 1 else "One primary comparison; ")
            + ("O'Brien–Fleming boundaries at each Holm level alpha/r (Maurer & Bretz 2013)." if sequential
               else f"significant when the adjusted p-value <= alpha = {exp.alpha}.")
        ),
    }
    if sequential:
        bounds = stats.obrien_fleming_boundaries(fractions, alpha=exp.alpha / len(primaries), alternative=exp.alternative)
        results["sequential"] = {
            "look": look["look"], "looks": K, "looks_analysed": [t[0]["look"] for t in tested[: index + 1]],
            "nominal_p_threshold": bounds.nominal_p_values[look["look"] - 1],
            "z_boundary": bounds.z_boundaries[look["look"] - 1], "conventions": bounds.conventions,
        }
    metrics = []
    control = arms[0]
    for i, (arm, res, power, n) in enumerate(primaries):
        entry = _result(res, metric=exp.metric_name, role="primary", n=n, power=power)
        significant = bool(rejected[i]) if stop is not None else False
        entry.update(arm=arm.name, control=control.name, version=arm.version.number,
                     significant=significant, in_favour=bool(significant and _favour(exp, res)),
                     p_value_holm=adjusted.adjusted_p_values[i], alpha_level=levels[i],
                     holm_conventions=results["multiplicity"]["conventions"])
        if sequential:
            entry["nominal_p_threshold"] = thresholds(levels[i])[look["look"] - 1]
        metrics.append(entry)
        if exp.kind == Experiment.Kind.AB:
            metrics.extend(_secondaries(exp, control, arm, look["window"]))
    results["metrics"] = metrics
    if stop is None and not final:
        results["note"] = (f"Look {look['look']} of {K}: no boundary is crossed; continue to the next planned look.")
        results["metrics"] = []
        return Analysis.Status.INTERIM, results, input_counts, code_version()
    return Analysis.Status.COMPLETED, results, input_counts, code_version()
