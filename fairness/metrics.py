"""Fairness metrics over subpopulations, computed from per-group confusion counts.

Pure numpy/scipy, no Django. Definitions follow Fairlearn (`MetricFrame`,
`demographic_parity_difference`, `equal_opportunity_difference`, `equalized_odds_difference`):

- per group: size, selection rate P(pred=1), accuracy, TPR = TP/(TP+FN), FPR = FP/(FP+TN),
  precision = TP/(TP+FP), calibration = mean score against observed rate P(label=1);
- across the groups of one attribute (between_groups, max - min):
  demographic parity difference (selection rate), demographic parity ratio (min / max selection
  rate; below 0.8 flags the four-fifths rule), equal opportunity difference (TPR), equalised odds
  difference = max(TPR difference, FPR difference).

Memory does not grow with rows: an `Aggregator` keeps, per attribute and group, the four
confusion counts, the sum of scores and the number of scores, updated chunk by chunk.

Bootstrap intervals resample *counts*, not rows: a stratified bootstrap (group sizes fixed)
draws each group's four confusion counts from a multinomial with the group's observed cell
proportions (numpy `Generator.multinomial`, all replicates and groups in one call) — the same
distribution as resampling the group's rows with replacement, at O(groups) cost per replicate.

Judgements: each disparity of each attribute is judged against its threshold. H0: the true
disparity is within the threshold. Its p-value is the one-sided bootstrap p-value
`(1 + #{replicates within threshold}) / (B + 1)`; the p-values of all judgements of a report are
adjusted together with Benjamini–Hochberg (`scipy.stats.false_discovery_control`, the same as
statsmodels `multipletests(method='fdr_bh')`). A judgement fails when the observed disparity is
beyond the threshold and its BH-adjusted p-value is at most alpha. Groups smaller than
`min_group_size` are reported but left out of the disparities and judgements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.stats import false_discovery_control

# Column order of the per-group count matrix: confusion cell index = 2 * label + prediction.
TN, FP, FN, TP = 0, 1, 2, 3

GROUP_METRICS = ("selection_rate", "accuracy", "true_positive_rate", "false_positive_rate", "precision",
                 "mean_score", "observed_rate")

# name: (label, kind); "max" disparities fail above the threshold, "min" ones below it.
DISPARITIES = {
    "demographic_parity_difference": ("Demographic parity difference", "max"),
    "demographic_parity_ratio": ("Demographic parity ratio (four-fifths rule)", "min"),
    "equal_opportunity_difference": ("Equal opportunity difference", "max"),
    "equalized_odds_difference": ("Equalised odds difference", "max"),
}
THRESHOLD_KEYS = {
    "demographic_parity_difference": "max_demographic_parity_difference",
    "demographic_parity_ratio": "min_demographic_parity_ratio",
    "equal_opportunity_difference": "max_equal_opportunity_difference",
    "equalized_odds_difference": "max_equalized_odds_difference",
}
FOUR_FIFTHS = 0.8


def intersection_name(a: str, b: str) -> str:
    return f"{a} × {b}"


@dataclass
class Aggregator:
    """Per attribute (and requested intersection) and group: confusion counts and score sums."""

    attributes: list[str]
    intersections: list[tuple[str, str]] = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # key -> {group: np.array([tn, fp, fn, tp, score_sum, score_n])}
    rows: int = 0

    def keys(self) -> list[str]:
        return list(self.attributes) + [intersection_name(a, b) for a, b in self.intersections]

    def add(self, *, label, prediction, score=None, groups: dict) -> None:
        """One chunk. `label`/`prediction`: 0/1 int arrays; `score`: float array with NaN for
        missing, or None; `groups`: {attribute: (codes int array, category names)}."""
        label = np.asarray(label, dtype=np.int64)
        prediction = np.asarray(prediction, dtype=np.int64)
        cell = 2 * label + prediction
        if score is None:
            score = np.full(len(cell), np.nan)
        score = np.asarray(score, dtype=float)
        has_score = ~np.isnan(score)
        score0 = np.where(has_score, score, 0.0)
        self.rows += len(cell)
        coded = {a: (np.asarray(c, dtype=np.int64), list(names)) for a, (c, names) in groups.items()}
        for a, b in self.intersections:
            (ca, na), (cb, nb) = coded[a], coded[b]
            coded[intersection_name(a, b)] = (ca * len(nb) + cb, [f"{x} × {y}" for x in na for y in nb])
        for key in self.keys():
            codes, names = coded[key]
            k = len(names)
            table = np.bincount(codes * 4 + cell, minlength=4 * k).reshape(k, 4).astype(float)
            sums = np.bincount(codes, weights=score0, minlength=k)
            ns = np.bincount(codes, weights=has_score.astype(float), minlength=k)
            store = self.counts.setdefault(key, {})
            for i in np.flatnonzero(table.sum(axis=1)):
                row = np.concatenate([table[i], [sums[i], ns[i]]])
                name = names[i]
                store[name] = store[name] + row if name in store else row


def _div(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def group_rates(c: np.ndarray) -> dict[str, np.ndarray]:
    """Rates from counts `c[..., 4]` (tn, fp, fn, tp); broadcasts over leading axes."""
    tn, fp, fn, tp = c[..., TN], c[..., FP], c[..., FN], c[..., TP]
    n = tn + fp + fn + tp
    return {
        "selection_rate": _div(tp + fp, n),
        "accuracy": _div(tp + tn, n),
        "true_positive_rate": _div(tp, tp + fn),
        "false_positive_rate": _div(fp, fp + tn),
        "precision": _div(tp, tp + fp),
        "observed_rate": _div(tp + fn, n),
    }


def disparities(rates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Across groups on the last axis (Fairlearn's between_groups, max - min); NaN rates (a group
    without positives has no TPR) are ignored like Fairlearn's nan-aware group max/min."""
    def spread(x):
        with np.errstate(invalid="ignore"):
            return np.nanmax(x, axis=-1) - np.nanmin(x, axis=-1)

    sel = rates["selection_rate"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.nanmin(sel, axis=-1) / np.nanmax(sel, axis=-1)
    eo = spread(rates["true_positive_rate"])
    return {
        "demographic_parity_difference": spread(sel),
        "demographic_parity_ratio": ratio,
        "equal_opportunity_difference": eo,
        "equalized_odds_difference": np.fmax(eo, spread(rates["false_positive_rate"])),
    }


def bootstrap_counts(counts: np.ndarray, *, reps: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified bootstrap of confusion counts `counts[G, 4]` -> `[reps, G, 4]`: each group's
    cells drawn from Multinomial(n_g, observed proportions), i.e. its rows resampled with
    replacement, without touching rows."""
    n = counts.sum(axis=1)
    p = counts / np.where(n > 0, n, 1)[:, None]
    return rng.multinomial(n.astype(np.int64), p, size=(reps, len(n))).astype(float)


def _interval(samples: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return None, None
    lo, hi = np.quantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def _num(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def analyse(aggregator: Aggregator, *, thresholds: dict, seed: int) -> dict:
    """The report's numbers: per key (attribute or intersection) its groups with rates and
    intervals, its disparities with intervals, and the judgements with BH-adjusted p-values."""
    reps = int(thresholds.get("bootstrap_reps", 1000))
    confidence = float(thresholds.get("confidence", 0.95))
    alpha = float(thresholds.get("alpha", 0.05))
    min_size = int(thresholds.get("min_group_size", 30))
    rng = np.random.default_rng(seed)
    result = {"rows": aggregator.rows, "attributes": {}, "judgements": []}
    pending = []  # (judgement dict, p-value)
    for key in aggregator.keys():
        store = aggregator.counts.get(key, {})
        names = sorted(store)
        table = np.array([store[g] for g in names]).reshape(len(names), 6)
        counts = table[:, :4]
        sizes = counts.sum(axis=1)
        judged = sizes >= min_size
        rates = group_rates(counts)
        boot = bootstrap_counts(counts, reps=reps, rng=rng) if len(names) else np.zeros((reps, 0, 4))
        boot_rates = group_rates(boot)
        groups = []
        for i, name in enumerate(names):
            mean_score = table[i, 4] / table[i, 5] if table[i, 5] else np.nan
            g = {"group": name, "size": int(sizes[i]), "judged": bool(judged[i]),
                 "mean_score": _num(mean_score),
                 "calibration_gap": _num(mean_score - rates["observed_rate"][i])}
            for m in ("selection_rate", "accuracy", "true_positive_rate", "false_positive_rate", "precision", "observed_rate"):
                lo, hi = _interval(boot_rates[m][:, i], confidence)
                g[m] = {"value": _num(rates[m][i]), "low": lo, "high": hi}
            groups.append(g)
        entry = {"groups": groups, "disparities": {}}
        result["attributes"][key] = entry
        if judged.sum() < 2:
            for metric in DISPARITIES:
                entry["disparities"][metric] = {"value": None, "low": None, "high": None}
                result["judgements"].append({
                    "attribute": key, "metric": metric, "status": "not judged", "value": None,
                    "threshold": thresholds[THRESHOLD_KEYS[metric]], "p_value": None, "p_adjusted": None,
                    "reason": f"fewer than two groups of at least {min_size} rows",
                })
            continue
        point = disparities({m: v[judged] for m, v in rates.items()})
        sampled = disparities({m: v[:, judged] for m, v in boot_rates.items()})
        judged_names = [n for n, j in zip(names, judged, strict=True) if j]
        for metric, (_label, kind) in DISPARITIES.items():
            value, samples = _num(point[metric]), sampled[metric]
            lo, hi = _interval(samples, confidence)
            entry["disparities"][metric] = {"value": value, "low": lo, "high": hi}
            threshold = float(thresholds[THRESHOLD_KEYS[metric]])
            j = {"attribute": key, "metric": metric, "value": value, "low": lo, "high": hi,
                 "threshold": threshold, "groups": _extremes(metric, rates, judged, judged_names)}
            if value is None:
                j.update(status="not judged", p_value=None, p_adjusted=None, reason="undefined in every group")
                result["judgements"].append(j)
                continue
            valid = samples[~np.isnan(samples)]
            within = (valid >= threshold) if kind == "min" else (valid <= threshold)
            p = (1 + int(within.sum())) / (valid.size + 1)
            j["p_value"] = p
            j["beyond"] = bool(value < threshold) if kind == "min" else bool(value > threshold)
            pending.append(j)
            result["judgements"].append(j)
    if pending:
        adjusted = benjamini_hochberg([j["p_value"] for j in pending])
        for j, q in zip(pending, adjusted, strict=True):
            j["p_adjusted"] = float(q)
            j["status"] = "fail" if j["beyond"] and q <= alpha else "pass"
            j.pop("beyond")
    result["passed"] = not any(j["status"] == "fail" for j in result["judgements"])
    return result


def _extremes(metric, rates, judged, names) -> dict:
    """The groups at the two ends of the rate a disparity compares (to name them when it fails)."""
    rate = {"demographic_parity_difference": "selection_rate", "demographic_parity_ratio": "selection_rate",
            "equal_opportunity_difference": "true_positive_rate", "equalized_odds_difference": None}[metric]
    if rate is None:
        def spread(r):
            v = rates[r][judged]
            return -np.inf if np.all(np.isnan(v)) else np.nanmax(v) - np.nanmin(v)

        rate = max(("true_positive_rate", "false_positive_rate"), key=spread)
    values = rates[rate][judged]
    if np.all(np.isnan(values)):
        return {}
    hi, lo = int(np.nanargmax(values)), int(np.nanargmin(values))
    return {"rate": rate, "highest": names[hi], "highest_value": float(values[hi]),
            "lowest": names[lo], "lowest_value": float(values[lo])}


def benjamini_hochberg(p_values) -> np.ndarray:
    """BH-adjusted p-values (scipy's `false_discovery_control(method='bh')`)."""
    p = np.asarray(p_values, dtype=float)
    return false_discovery_control(p, method="bh") if p.size else p


def all_pairs(attributes: list[str]) -> list[tuple[str, str]]:
    return list(combinations(attributes, 2))
