"""Drift statistics on mergeable summaries. Plain numpy/scipy/statsmodels, no Django.

Longer than 400 lines on purpose: it is one contract. The reference grid (`filled_grid`,
`ReservoirSorted`), the production summaries on that grid (`summarise_numeric`,
`NumericSummary.merge`) and the statistics read from them (`ks_from_summary`,
`wasserstein_from_summary`, …) are correct only together — the exactness arguments below tie
each statistic to how the grid and the summaries were built, and a change to one side must be
read against the other. The readers of uploaded files are `readers.py`; the services that store
summaries are `ingest.py` and `services.py`.

A reference profile keeps, per numeric feature, the sorted distinct reference values with their
counts (all of them up to a cap, a uniform sample beyond) and, per categorical feature, the
category counts. Production data is summarised against that grid as it arrives
(`summarise_numeric`, `summarise_categorical`); summaries of several batches add up
(`NumericSummary.merge`), so a check never needs the production rows themselves and its memory
does not grow with the number of rows.

What the summaries give exactly (tests compare with scipy on the raw rows):

* Kolmogorov–Smirnov: both CDFs are step functions; between two neighbouring reference values
  the reference CDF is flat and the current one only rises, so the supremum of their distance is
  reached at a reference value or just before one. Counts of current values at each reference
  value and in each gap between them give D exactly; the p-value follows scipy's `ks_2samp`
  (`method="auto"`: exact for samples up to 10,000, else `kstwo.sf(D, round(mn/(m+n)))`).
* Wasserstein-1 distance, `∫ |F_ref − F_cur| dx`: per gap the count and the sum of the current
  values give `∫ F_cur` exactly; the absolute value is exact wherever the two CDFs do not cross
  inside a gap. In the rare gap where they cross, the current values are taken as evenly spread
  (error below that gap's width times its share of rows). Divided by the reference standard
  deviation (population, of all reference rows; at least 0.001), as Evidently does.
* chi-square, Z-test for two proportions, Jensen–Shannon distance: from category (or distinct
  value) counts, exactly as Evidently computes them.
* PSI on ten bins cut at the reference deciles (both outer bins open), zero shares replaced by
  0.0001; bands below 0.1 stable, 0.1–0.25 warning, from 0.25 drift.

Method selection (Evidently's default, `evidently.legacy.calculations.stattests.registry.
_get_default_stattest`), with n_ref the non-missing reference rows and n_values the distinct
values of reference and current together:

* n_ref ≤ 1000: numeric with n_values > 5 → KS (p < 0.05); otherwise, and for categorical
  features, chi-square (p < 0.05) if n_values > 2 else Z-test (p < 0.05).
* n_ref > 1000: numeric with n_values > 5 → normalised Wasserstein (≥ 0.1); otherwise, and for
  categorical features, Jensen–Shannon distance (≥ 0.1, natural log).

Dataset drift: the share of drifted features reaches `drift_share` (default 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats
from scipy.spatial import distance
from statsmodels.stats.multitest import multipletests

NUMERIC = "numeric"
CATEGORICAL = "categorical"

KS, WASSERSTEIN, CHISQUARE, ZTEST, JENSENSHANNON, PSI = "ks", "wasserstein", "chisquare", "z", "jensenshannon", "psi"
METHODS = (KS, WASSERSTEIN, CHISQUARE, ZTEST, JENSENSHANNON, PSI)
P_VALUE_METHODS = {KS, CHISQUARE, ZTEST}
DEFAULT_THRESHOLDS = {KS: 0.05, CHISQUARE: 0.05, ZTEST: 0.05, WASSERSTEIN: 0.1, JENSENSHANNON: 0.1, PSI: 0.1}
METHOD_LABELS = {
    KS: "Kolmogorov–Smirnov p-value",
    WASSERSTEIN: "Wasserstein distance (normed)",
    CHISQUARE: "chi-square p-value",
    ZTEST: "Z-test p-value",
    JENSENSHANNON: "Jensen–Shannon distance",
    PSI: "PSI",
}
PSI_WARNING, PSI_DRIFT = 0.1, 0.25
DEFAULT_DRIFT_SHARE = 0.5
# Distinct values tracked exactly per numeric feature (the selection rule needs up to 5).
SMALL_DISTINCT = 32
KS_EXACT_MAX_N = 10_000  # scipy's ks_2samp switches from exact to asymptotic above this size
PSI_BINS = 10
PSI_EPS = 1e-4


# --- reference -------------------------------------------------------------------------------


@dataclass
class NumericReference:
    """`values`: sorted distinct reference values (of the sample when `sampled`), `counts` theirs.
    `n` and `std` describe all non-missing reference rows."""

    values: np.ndarray
    counts: np.ndarray
    n: int
    std: float
    sampled: bool = False
    small_counts: dict | None = None  # exact distinct-value counts if ≤ SMALL_DISTINCT, else None
    mean: float = 0.0

    @property
    def inner_edges(self) -> np.ndarray:
        """Reference deciles, taken among the reference values (so bins add up from the grid)."""
        return decile_edges(self.values, self.counts)


def decile_edges(values: np.ndarray, counts: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    cum = np.cumsum(counts)
    total = cum[-1]
    targets = np.arange(1, bins) / bins * total
    idx = np.searchsorted(cum, targets, side="left")
    # An edge starts a bin: the first value whose cumulative share passes the quantile.
    idx = np.minimum(idx + 1, len(values) - 1)
    return np.unique(values[idx])


GRID_FILL = 10_000


def filled_grid(values: np.ndarray, counts: np.ndarray, fill: int = GRID_FILL):
    """The reference values plus `fill` evenly spaced points (count 0) across their range.

    The reference CDF does not change, but production values are then summarised on gaps no
    wider than range/fill: that bounds the Wasserstein error in the few gaps where the two CDFs
    cross (sparse tails of skewed features have wide gaps between reference values)."""
    if values.size < 2 or fill <= 0:
        return values, counts
    grid = np.union1d(values, np.linspace(values[0], values[-1], fill + 1))
    full = np.zeros(grid.size, dtype=np.int64)
    full[np.searchsorted(grid, values)] = counts
    return grid, full


class StreamingMoments:
    """Count, mean and population variance over chunks (Chan et al.'s parallel update)."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        n_b, mean_b = x.size, float(x.mean())
        m2_b = float(((x - mean_b) ** 2).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.n)) if self.n else 0.0


class SmallCounter:
    """Exact value counts while there are at most SMALL_DISTINCT distinct values; then gives up."""

    def __init__(self, counts: dict | None = None, overflow: bool = False):
        self.counts = {} if counts is None else dict(counts)
        self.overflow = overflow

    def add(self, x: np.ndarray) -> None:
        if self.overflow or x.size == 0:
            return
        values, counts = np.unique(x, return_counts=True)
        if values.size > SMALL_DISTINCT:
            self.overflow, self.counts = True, {}
            return
        for v, c in zip(values.tolist(), counts.tolist(), strict=True):
            self.counts[v] = self.counts.get(v, 0) + c
        if len(self.counts) > SMALL_DISTINCT:
            self.overflow, self.counts = True, {}

    @property
    def result(self) -> dict | None:
        return None if self.overflow else self.counts


class ReservoirSorted:
    """Up to `cap` values: all of them while they fit, then a uniform sample (reservoir, fixed
    seed) — exactly what the profile says it keeps."""

    def __init__(self, cap: int, seed: int = 0):
        self.cap, self.rng = cap, np.random.default_rng(seed)
        self.sample = np.empty(0)
        self.seen = 0

    def add(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        room = self.cap - self.sample.size
        if room > 0:
            take = x[:room]
            self.sample = np.concatenate([self.sample, take])
            self.seen += take.size
            x = x[room:]
        if x.size == 0:
            return
        # Algorithm R, vectorised: item number t (1-based) replaces a random slot with prob cap/t.
        t = self.seen + np.arange(1, x.size + 1)
        j = (self.rng.random(x.size) * t).astype(np.int64)
        keep = j < self.cap
        for slot, value in zip(j[keep], x[keep], strict=True):
            self.sample[slot] = value
        self.seen += x.size

    @property
    def sampled(self) -> bool:
        return self.seen > self.cap


# --- production summaries -----------------------------------------------------------------


@dataclass
class NumericSummary:
    """Current values on the reference grid: `eq[i]` values equal to reference value i,
    `gap[i]` / `gap_sum[i]` count and sum of values strictly between reference values i−1 and i
    (gap 0 below the smallest, gap k above the largest)."""

    eq: np.ndarray
    gap: np.ndarray
    gap_sum: np.ndarray
    small_counts: dict | None = field(default_factory=dict)
    missing: int = 0

    @property
    def n(self) -> int:
        return int(self.eq.sum() + self.gap.sum())

    @classmethod
    def empty(cls, k: int) -> NumericSummary:
        return cls(np.zeros(k, np.int64), np.zeros(k + 1, np.int64), np.zeros(k + 1), {})

    def merge(self, other: NumericSummary) -> NumericSummary:
        small = None
        if self.small_counts is not None and other.small_counts is not None:
            small = dict(self.small_counts)
            for v, c in other.small_counts.items():
                small[v] = small.get(v, 0) + c
            if len(small) > SMALL_DISTINCT:
                small = None
        return NumericSummary(self.eq + other.eq, self.gap + other.gap, self.gap_sum + other.gap_sum,
                              small, self.missing + other.missing)


def summarise_numeric(ref_values: np.ndarray, x: np.ndarray) -> NumericSummary:
    """Summary of finite values `x` on the grid of sorted distinct reference values."""
    k = ref_values.size
    x = np.asarray(x, dtype=float)
    finite = np.isfinite(x)
    missing = int(x.size - finite.sum())
    # Sorted queries make the binary searches cache-friendly (about 3× faster on large grids).
    x = np.sort(x[finite])
    idx = np.searchsorted(ref_values, x, side="left")
    is_eq = ref_values[np.minimum(idx, k - 1)] == x
    eq = np.bincount(idx[is_eq], minlength=k).astype(np.int64)
    gap_idx, gap_x = idx[~is_eq], x[~is_eq]
    gap = np.bincount(gap_idx, minlength=k + 1).astype(np.int64)
    gap_sum = np.bincount(gap_idx, weights=gap_x, minlength=k + 1)
    return NumericSummary(eq, gap, gap_sum, _small_counts_sorted(x), missing)


def _small_counts_sorted(x: np.ndarray) -> dict | None:
    if x.size == 0:
        return {}
    starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    if starts.size > SMALL_DISTINCT:
        return None
    counts = np.diff(np.r_[starts, x.size])
    return dict(zip(x[starts].tolist(), counts.tolist(), strict=True))


def summarise_categorical(values) -> dict:
    """Category → count (missing values left out by the caller)."""
    uniq, counts = np.unique(np.asarray(values, dtype=object).astype(str), return_counts=True)
    return dict(zip(uniq.tolist(), counts.tolist(), strict=True))


def merge_counts(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


# --- statistics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureResult:
    feature: str
    kind: str
    method: str
    statistic: float  # p-value for p-value methods, else the distance
    p_value: float | None
    threshold: float
    drifted: bool
    reference_n: int
    current_n: int
    p_adjusted: float | None = None
    drifted_adjusted: bool | None = None
    psi: float | None = None
    psi_band: str | None = None
    reference_hist: list | None = None
    current_hist: list | None = None
    bins: list | None = None

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def select_method(kind: str, n_ref: int, n_values: int) -> str:
    """Evidently's default test for a feature (see the module docstring)."""
    if n_ref <= 1000:
        if kind == NUMERIC and n_values > 5:
            return KS
        return CHISQUARE if n_values > 2 else ZTEST
    if kind == NUMERIC and n_values > 5:
        return WASSERSTEIN
    return JENSENSHANNON


def _ref_cdf_counts(ref: NumericReference):
    return np.cumsum(ref.counts), int(ref.counts.sum())


def ks_from_summary(ref: NumericReference, cur: NumericSummary) -> tuple[float, float]:
    """(D, p-value) of the two-sample KS test, two-sided, as scipy's ks_2samp(method='auto')."""
    cum_ref, n_ref = _ref_cdf_counts(ref)
    n_cur = cur.n
    cum_ref_before = np.concatenate([[0], cum_ref[:-1]])
    # Current values up to and including gap i (i.e. strictly below reference value i) …
    below = np.cumsum(cur.gap[:-1]) + np.concatenate([[0], np.cumsum(cur.eq)[:-1]])
    at = below + cur.eq  # … and up to reference value i inclusive
    d = max(
        np.max(np.abs(cum_ref_before / n_ref - below / n_cur)),
        np.max(np.abs(cum_ref / n_ref - at / n_cur)),
    )
    d = float(d)
    if max(n_ref, n_cur) <= KS_EXACT_MAX_N and not ref.sampled:
        # Small enough for scipy's exact distribution: rebuild samples with the same CDF jumps.
        return _ks_exact_via_scipy(ref, cur)
    m, n = sorted([float(n_ref), float(n_cur)], reverse=True)
    en = m * n / (m + n)
    p = float(stats.kstwo.sf(d, np.round(en)))
    return d, min(max(p, 0.0), 1.0)


def _ks_exact_via_scipy(ref: NumericReference, cur: NumericSummary) -> tuple[float, float]:
    """KS is invariant to where values sit inside a gap: place each gap's values at one point
    strictly inside it and let scipy compute statistic and exact p-value."""
    v = ref.values
    k = v.size
    ref_sample = np.repeat(v, ref.counts)
    inner = (v[:-1] + v[1:]) / 2 if k > 1 else np.empty(0)
    span = max(float(v[-1] - v[0]), 1.0)
    gap_points = np.concatenate([[v[0] - span], inner, [v[-1] + span]])
    cur_sample = np.concatenate([np.repeat(v, cur.eq), np.repeat(gap_points, cur.gap)])
    res = stats.ks_2samp(ref_sample, cur_sample)
    return float(res.statistic), float(res.pvalue)


def wasserstein_from_summary(ref: NumericReference, cur: NumericSummary) -> float:
    """First Wasserstein distance ∫|F_ref − F_cur| (see the module docstring for exactness)."""
    v = ref.values
    k = v.size
    cum_ref, n_ref = _ref_cdf_counts(ref)
    n_cur = cur.n
    # Outer gaps: below v[0] F_ref = 0, above v[-1] F_ref = 1.
    total = (cur.gap[0] * v[0] - cur.gap_sum[0]) / n_cur
    total += (cur.gap_sum[k] - cur.gap[k] * v[-1]) / n_cur
    if k > 1:
        a, b = v[:-1], v[1:]
        width = b - a
        r = cum_ref[:-1] / n_ref  # F_ref on (a, b)
        g, s = cur.gap[1:k], cur.gap_sum[1:k]
        c_before = np.cumsum(cur.gap[:-1])[: k - 1] + np.cumsum(cur.eq)[: k - 1]  # ≤ a
        lo = c_before / n_cur
        hi = (c_before + g) / n_cur
        integral_cur = (width * c_before + g * b - s) / n_cur  # ∫_a^b F_cur
        signed = r * width - integral_cur
        cross = (lo < r) & (r < hi)
        total += np.abs(signed[~cross]).sum()
        if cross.any():
            # The gap's values taken as evenly spread over the widest sub-interval with their mean
            # (touching a or b): F_cur is lo before it, rises linearly across it, hi after it.
            lo_c, hi_c, r_c = lo[cross], hi[cross], r[cross]
            a_c, b_c = a[cross], b[cross]
            mean = s[cross] / g[cross]
            left = mean <= (a_c + b_c) / 2
            p = np.where(left, a_c, 2 * mean - b_c)
            q = np.where(left, 2 * mean - a_c, b_c)
            t = (r_c - lo_c) / (hi_c - lo_c)
            total += ((p - a_c) * (r_c - lo_c) + (b_c - q) * (hi_c - r_c)
                      + (q - p) * (t * (r_c - lo_c) + (1 - t) * (hi_c - r_c)) / 2).sum()
    return float(total)


def wasserstein_norm_from_summary(ref: NumericReference, cur: NumericSummary) -> float:
    return wasserstein_from_summary(ref, cur) / max(ref.std, 0.001)


def _aligned(ref_counts: dict, cur_counts: dict):
    keys = sorted(set(ref_counts) | set(cur_counts), key=lambda x: (str(type(x)), x))
    r = np.array([ref_counts.get(key, 0) for key in keys], dtype=float)
    c = np.array([cur_counts.get(key, 0) for key in keys], dtype=float)
    return keys, r, c


def chisquare_counts(ref_counts: dict, cur_counts: dict) -> float:
    """p-value of scipy's chisquare of current counts against reference shares × current size."""
    _, r, c = _aligned(ref_counts, cur_counts)
    f_exp = r * (c.sum() / r.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(c, f_exp)[1])


def ztest_counts(ref_counts: dict, cur_counts: dict) -> float:
    """Two-proportion z-test (pooled), two-sided: share of values other than the smallest key."""
    keys, r, c = _aligned(ref_counts, cur_counts)
    if len(keys) == 1:
        return 1.0
    n1, n2 = r.sum(), c.sum()
    p1, p2 = (n1 - r[0]) / n1, (n2 - c[0]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * (1 - stats.norm.cdf(abs(z))))


def jensenshannon_counts(ref_counts: dict, cur_counts: dict) -> float:
    _, r, c = _aligned(ref_counts, cur_counts)
    return float(distance.jensenshannon(r / r.sum(), c / c.sum()))


def psi_shares(ref_share: np.ndarray, cur_share: np.ndarray, eps: float = PSI_EPS) -> float:
    r = np.where(ref_share == 0, eps, ref_share)
    c = np.where(cur_share == 0, eps, cur_share)
    return float(np.sum((r - c) * np.log(r / c)))


def psi_band(value: float) -> str:
    return "drift" if value >= PSI_DRIFT else "warning" if value >= PSI_WARNING else "ok"


def numeric_histograms(ref: NumericReference, cur: NumericSummary, edges: np.ndarray | None = None):
    """Reference and current counts on bins cut at `edges` (reference values; outer bins open)."""
    edges = ref.inner_edges if edges is None else edges
    v = ref.values
    ref_bin = np.searchsorted(edges, v, side="right")
    nb = edges.size + 1
    ref_hist = np.bincount(ref_bin, weights=ref.counts, minlength=nb)
    cur_hist = np.bincount(ref_bin, weights=cur.eq, minlength=nb)
    gap_bin = np.concatenate([[0], ref_bin])  # gap i lies just above reference value i−1
    cur_hist += np.bincount(gap_bin, weights=cur.gap, minlength=nb)
    return ref_hist, cur_hist


def _counts_test(method: str, ref_counts: dict, cur_counts: dict) -> float:
    return {CHISQUARE: chisquare_counts, ZTEST: ztest_counts, JENSENSHANNON: jensenshannon_counts}[method](
        ref_counts, cur_counts
    )


def _verdict(method: str, value: float, threshold: float) -> bool:
    if method in P_VALUE_METHODS:
        return bool(value < threshold)
    return bool(value >= threshold)


def numeric_drift(name: str, ref: NumericReference, cur: NumericSummary, *, method: str = "auto",
                  thresholds: dict | None = None) -> FeatureResult:
    thresholds = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    n_cur = cur.n
    if ref.small_counts is not None and cur.small_counts is not None:
        n_values = len(set(ref.small_counts) | set(cur.small_counts))
    else:
        n_values = SMALL_DISTINCT + 1
    if method == "auto":
        method = select_method(NUMERIC, ref.n, n_values)
    ref_hist, cur_hist = numeric_histograms(ref, cur)
    psi = psi_shares(ref_hist / ref_hist.sum(), cur_hist / max(cur_hist.sum(), 1)) if n_cur else None
    if n_cur == 0:
        value, p = float("nan"), None
    elif method == KS:
        _, p = ks_from_summary(ref, cur)
        value = p
    elif method == WASSERSTEIN:
        value, p = wasserstein_norm_from_summary(ref, cur), None
    elif method == PSI:
        value, p = psi, None
    elif method in (CHISQUARE, ZTEST, JENSENSHANNON):
        if ref.small_counts is None or cur.small_counts is None:
            raise ValueError(f"{method} needs a feature with at most {SMALL_DISTINCT} distinct values")
        value = _counts_test(method, ref.small_counts, cur.small_counts)
        p = value if method in P_VALUE_METHODS else None
    else:
        raise ValueError(f"unknown method {method!r}")
    threshold = float(thresholds[method])
    edges = ref.inner_edges
    return FeatureResult(
        feature=name, kind=NUMERIC, method=method, statistic=value, p_value=p, threshold=threshold,
        drifted=n_cur > 0 and _verdict(method, value, threshold), reference_n=ref.n, current_n=n_cur,
        psi=psi, psi_band=psi_band(psi) if psi is not None else None,
        reference_hist=ref_hist.tolist(), current_hist=cur_hist.tolist(), bins=edges.tolist(),
    )


def categorical_drift(name: str, ref_counts: dict, cur_counts: dict, *, method: str = "auto",
                      thresholds: dict | None = None) -> FeatureResult:
    thresholds = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    n_ref, n_cur = sum(ref_counts.values()), sum(cur_counts.values())
    if method in ("auto", KS, WASSERSTEIN):  # numeric-only tests fall back to the default
        method = select_method(CATEGORICAL, n_ref, len(set(ref_counts) | set(cur_counts)))
    keys, r, c = _aligned(ref_counts, cur_counts)
    psi = psi_shares(r / r.sum(), c / max(c.sum(), 1)) if n_cur else None
    if n_cur == 0:
        value, p = float("nan"), None
    elif method == PSI:
        value, p = psi, None
    else:
        value = _counts_test(method, ref_counts, cur_counts)
        p = value if method in P_VALUE_METHODS else None
    threshold = float(thresholds[method])
    return FeatureResult(
        feature=name, kind=CATEGORICAL, method=method, statistic=value, p_value=p, threshold=threshold,
        drifted=n_cur > 0 and _verdict(method, value, threshold), reference_n=n_ref, current_n=n_cur,
        psi=psi, psi_band=psi_band(psi) if psi is not None else None,
        reference_hist=r.tolist(), current_hist=c.tolist(), bins=[str(k) for k in keys],
    )


# --- many features -------------------------------------------------------------------------


def bh_adjust(p_values: list[float], alpha: float = 0.05) -> tuple[list[bool], list[float]]:
    """Benjamini–Hochberg (statsmodels `multipletests`, method 'fdr_bh')."""
    if not p_values:
        return [], []
    reject, adjusted, _, _ = multipletests(p_values, alpha=alpha, method="fdr_bh")
    return [bool(x) for x in reject], [float(x) for x in adjusted]


def apply_bh(results: list[FeatureResult], alpha: float = 0.05) -> list[FeatureResult]:
    """Adjust the p-value tests together; distance methods have no p-value and keep their verdict."""
    idx = [i for i, r in enumerate(results) if r.p_value is not None and np.isfinite(r.p_value)]
    reject, adjusted = bh_adjust([results[i].p_value for i in idx], alpha)
    out = [replace(r, drifted_adjusted=r.drifted) for r in results]
    for i, rej, adj in zip(idx, reject, adjusted, strict=True):
        out[i] = replace(out[i], p_adjusted=adj, drifted_adjusted=rej)
    return out


@dataclass(frozen=True)
class DatasetDrift:
    drifted_features: int
    total_features: int
    share: float
    drift_share: float
    dataset_drift: bool

    @property
    def status(self) -> str:
        """ok / warning (some feature drifted) / drift (dataset drift)."""
        if self.dataset_drift:
            return "drift"
        return "warning" if self.drifted_features else "ok"


def dataset_drift(verdicts: list[bool], drift_share: float = DEFAULT_DRIFT_SHARE) -> DatasetDrift:
    total = len(verdicts)
    drifted = int(sum(bool(v) for v in verdicts))
    share = drifted / total if total else 0.0
    return DatasetDrift(drifted, total, share, drift_share, bool(total and share >= drift_share))
