"""Pure statistics for A/B tests, computed from database-side sufficient statistics.

Longer than 400 lines on purpose: it is one reference — every pinned convention below sits next
to the function that implements it, and `code_version()` hashes this file into each analysis.

This module has no Django dependency (numpy/scipy/statsmodels only). Where a library computes
the statistic from what the database returns it is called (scipy ``ttest_ind_from_stats`` and
``chisquare``, statsmodels ``proportions_ztest`` and ``mcnemar``); the rest is hand-written
because no library takes aggregates (rank sums, W+, sums of squares in exact arithmetic,
sequential boundaries), each with an independent reference test. Every function takes aggregates
computed in the database (counts, sums, sums of squares, rank sums, tie terms), never raw
observations, and returns a frozen dataclass (or a float for the plain power functions).
The pinned conventions below are shown next to results in the governance record; they are
exact descriptions of what the code computes.

General conventions
-------------------
* Arms: ``a`` is control, ``b`` is treatment. Every effect is treatment minus control
  (``b - a``) or treatment relative to control (``b / a - 1``).
* ``alternative`` is one of ``'two-sided'``, ``'larger'`` (treatment greater than control,
  i.e. effect ``b - a > 0``) or ``'smaller'`` (effect ``b - a < 0``). For paired data the
  differences are ``d = b - a`` and the same semantics apply to ``d``.
* One-sided tests and sample sizes use ``alpha`` in one tail; two-sided ones use ``alpha/2`` in
  each tail.
* Confidence intervals have confidence level ``1 - alpha`` and follow the sidedness of
  ``alternative``: two-sided intervals for ``'two-sided'``, ``(low, +inf)`` for ``'larger'``
  and ``(-inf, high)`` for ``'smaller'`` (the scipy convention). McNemar and the mSPRT are
  two-sided only; Mann-Whitney and Wilcoxon report no interval.
* Invalid input (counts out of range, ``n < 2`` where a variance is needed, probabilities
  outside (0, 1), unknown ``alternative``, zero variance so that a statistic is undefined,
  impossible rank sums) raises ``ValueError``; nothing is silently returned as NaN.
* Sample variances use the ``n - 1`` denominator. They are computed from ``n``, ``sum`` and
  ``sum of squares`` as ``(sumsq - sum**2 / n) / (n - 1)`` where the centred sum of squares
  ``sumsq - sum**2 / n`` is evaluated in exact rational arithmetic (``fractions.Fraction``)
  from the supplied values and only then rounded to float, so the formula adds no
  cancellation error of its own; the remaining error is that of the database aggregates
  themselves. A centred sum of squares below ``-1e-9 * sumsq`` is rejected as inconsistent
  input; a smaller negative value (rounding in the database) is clamped to 0.

Sample size and power (planning)
--------------------------------
* Proportions: R ``power.prop.test`` with ``strict = FALSE``: normal approximation without
  continuity correction, power
  ``Phi((sqrt(n) |p2 - p1| - z_(1-alpha/k) sqrt((p1 + p2)(q1 + q2) / 2)) / sqrt(p1 q1 + p2 q2))``
  (``k`` = 2 two-sided, 1 one-sided; the rejection region on the opposite side is ignored).
  ``p2 = p1 + mde`` (absolute minimum detectable effect). For one-sided alternatives the power
  functions are directional (``p2 - p1`` signed instead of ``|p2 - p1|``; identical to R when
  the effect has the stated direction); the same holds for means.
* Means: R ``power.t.test`` (two-sample, ``strict = FALSE``): power
  ``P(T' > t_(1-alpha/k, nu))`` with ``T'`` noncentral t, ``nu = 2 (n - 1)`` and
  noncentrality ``sqrt(n / 2) * mde / sd``.
* ``n`` is solved as the real root of ``power(n) = target`` (Brent's method on ``[2, 1e7]``,
  as R's ``uniroot``, but to full double precision; ``n = 2`` if the target is already met
  there, ``ValueError`` if it is not met at ``1e7``) and reported as ``n`` (real, per arm,
  equal split); ``n_per_arm = ceil(n)``. One-sided alternatives require ``mde`` in the stated
  direction.
* Unequal allocation with weights ``w`` (k arms): the smallest arm is given at least
  ``n_per_arm`` units, so every pairwise comparison has at least the planned power (both arms
  of any comparison have ``>= n_per_arm`` units). With ``N = ceil(n_per_arm * sum(w) / min(w))``
  arm ``i`` gets ``ceil(N * w_i / sum(w))`` units and ``total_n`` is the sum of the arm sizes
  (``>= N``; computed in exact rational arithmetic). Conservative, no multiplicity adjustment:
  pass a Bonferroni/Holm-adjusted ``alpha`` if several treatments are compared.
* ``planned_duration_days = ceil(total_n / daily_units)``.
* Achieved (post-hoc) power uses the observed effect and the observed arm sizes and counts
  both rejection regions for two-sided tests (``strict = TRUE`` in R's terms). It is a
  one-to-one function of the p-value and is informational only: it is not evidence for the
  null hypothesis.

Hypothesis tests
----------------
* Two proportions: z test with pooled variance ``p(1 - p)(1/n_a + 1/n_b)``, no continuity
  correction (statsmodels ``proportions_ztest``, ``prop_var=False``). CI for ``p_b - p_a``:
  unpooled Wald interval. Relative effect ``p_b / p_a - 1`` with a delta-method interval on the
  log risk ratio (Katz: ``se^2 = 1/x_b - 1/n_b + 1/x_a - 1/n_a``), exponentiated, minus 1
  (so the one-sided ``'smaller'`` interval is ``(-1, high)``). The relative effect is
  ``None`` when ``x_a = 0``, its interval when ``x_a = 0`` or ``x_b = 0``.
* Welch t test: unequal variances, Welch-Satterthwaite df (scipy ``ttest_ind``,
  ``equal_var=False``); CI for ``mean_b - mean_a`` with the Welch t quantile. Relative effect
  ``mean_b / mean_a - 1`` with a linear delta-method interval
  ``se^2 = se_b^2 / mean_a^2 + mean_b^2 se_a^2 / mean_a^4`` with ``se^2 = var / n`` per arm
  (standard normal quantile); ``None`` when ``mean_a = 0``.
* Mann-Whitney U: normal approximation with tie correction
  ``var = n_a n_b / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1)))`` and continuity correction
  0.5 (scipy ``mannwhitneyu``, ``method='asymptotic'``, ``use_continuity=True``). Ranks are
  average ranks over the pooled sample. Reported statistic: ``U_a = R_a - n_a (n_a + 1) / 2``.
  Effect: common-language effect size ``U_b / (n_a n_b) = P(B > A) + P(B = A) / 2``.
* McNemar: default ``exact=False, correction=True``, i.e. chi-square with 1 df on
  ``(|b - c| - 1)^2 / (b + c)`` (the default of R ``mcnemar.test``; statsmodels ``mcnemar`` must
  be called with ``exact=False`` to match). ``exact=True`` gives the two-sided exact binomial
  test ``min(1, 2 * Binom(min(b, c); b + c, 1/2))``. ``b`` = pairs with control success and
  treatment failure, ``c`` = control failure and treatment success. Two-sided only. When the
  total number of pairs is given, effect ``p_b - p_a = (c - b) / n_pairs`` with a two-sided
  Wald interval, ``se = sqrt((b + c) - (c - b)^2 / n_pairs) / n_pairs``.
* Paired t test on ``d = b - a``, ``n - 1`` df (scipy ``ttest_rel``), t-quantile CI for the
  mean difference.
* Wilcoxon signed-rank on ``d = b - a``: zero differences dropped (``zero_method='wilcox'``),
  average ranks over ties in ``|d|``; normal approximation with mean ``n(n + 1)/4`` and
  variance ``n(n + 1)(2n + 1)/24 - sum(t^3 - t)/48`` (``n`` = non-zero differences); continuity
  correction off by default (scipy ``wilcoxon``, ``method='asymptotic'``). Reported statistic:
  ``W+`` (R's ``V``). Effect: matched-pairs rank-biserial ``(W+ - W-) / (W+ + W-)``.
* Sample-ratio mismatch: Pearson chi-square goodness of fit of the observed arm counts to the
  planned allocation, ``k - 1`` df (scipy ``chisquare``); flagged when ``p < SRM_P_THRESHOLD``.
* Multiple comparisons: Holm step-down adjusted p-values
  ``max_(j <= i) min(1, (m - j + 1) p_(j))`` (statsmodels ``multipletests(method='holm')``).

Sequential monitoring
---------------------
* Group-sequential efficacy boundaries from the Lan-DeMets O'Brien-Fleming-type spending
  function ``f(t; a) = 2 - 2 Phi(z_(1 - a/2) / sqrt(t))`` applied per side (the gsDesign
  ``sfLDOF`` / ldbounds convention). One-sided (``'larger'``/``'smaller'``): ``alpha`` is
  one-sided, cumulative alpha ``alpha*(t) = f(t; alpha)``, only the upper (``'larger'``) or lower
  (``'smaller'``, reported as negative values) boundary. Two-sided: ``alpha`` is the total
  level, each side spends ``f(t; alpha/2)``, so ``alpha*(t) = 2 f(t; alpha/2)``, with symmetric
  boundaries ``+-c_k`` (K = 5 equally spaced looks, alpha = 0.05: 4.877, 3.357, 2.680, 2.290,
  2.031). No futility boundary. Boundaries solve
  ``P(no earlier crossing, crossing at look k | H0) = alpha*(t_k) - alpha*(t_(k-1))`` for the
  canonical joint distribution ``corr(Z_i, Z_j) = sqrt(t_i / t_j)``, by numerical integration
  (Armitage-McPherson-Rowe recursion on the score scale, Simpson's rule). Look ``k`` rejects
  when ``|Z_k| >= c_k`` (two-sided), ``Z_k >= c_k`` (``'larger'``) or ``Z_k <= -c_k``
  (``'smaller'``). Information fractions: strictly increasing in (0, 1], steps >= 0.01, at
  most 50 looks; if the last fraction is below 1 only ``alpha*(t_K)`` is spent.
* mSPRT (Johari, Pekelis & Walsh 2017): always-valid p-value for ``mean_b - mean_a`` with a
  ``N(0, tau^2)`` mixture over the effect and plug-in variance
  ``V = var_a / n_a + var_b / n_b``:
  ``Lambda_n = sqrt(V / (V + tau^2)) exp(tau^2 theta_hat^2 / (2 V (V + tau^2)))``,
  ``p_n = min(p_(n-1), 1, 1 / Lambda_n)`` (the caller supplies ``p_(n-1)``), always-valid
  interval ``theta_hat +- sqrt(V (V + tau^2) / tau^2 * (log((V + tau^2) / V) - 2 log alpha))``.
  Two-sided; the plug-in variance makes the guarantee approximate in small samples.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.contingency_tables import mcnemar as _sm_mcnemar
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import proportions_ztest

__all__ = [
    "ALTERNATIVES",
    "SRM_P_THRESHOLD",
    "HypothesisTestResult",
    "HolmResult",
    "MSPRTResult",
    "PowerResult",
    "SampleSizeResult",
    "SequentialBoundaries",
    "SRMResult",
    "achieved_power_means",
    "achieved_power_proportions",
    "allocate_sample_size",
    "holm",
    "holm_group_sequential",
    "group_sequential_power",
    "obrien_fleming_inflation",
    "mann_whitney_u",
    "mcnemar_test",
    "msprt_normal",
    "obrien_fleming_boundaries",
    "obrien_fleming_spending",
    "paired_ttest",
    "planned_duration_days",
    "power_means",
    "power_proportions",
    "sample_size_means",
    "sample_size_proportions",
    "srm_chisquare",
    "two_proportion_ztest",
    "welch_ttest",
    "wilcoxon_signed_rank",
]

ALTERNATIVES = ("two-sided", "larger", "smaller")

#: Sample-ratio mismatch is flagged when the chi-square goodness-of-fit p-value is below this.
SRM_P_THRESHOLD = 0.001

#: Relative tolerance under which a negative centred sum of squares is treated as rounding.
_SS_NEGATIVE_TOLERANCE = 1e-9

#: Bracket used for the sample-size root search (same as R's ``uniroot(c(2, 1e7))``).
_N_BRACKET = (2.0, 1e7)


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSizeResult:
    """Planned sample size.

    ``n`` is the real per-arm root for an equal two-arm split, ``n_per_arm = ceil(n)``,
    ``arm_sizes`` the per-arm sizes under ``allocation`` and ``total_n`` their sum.
    """

    method: str
    n: float
    n_per_arm: int
    total_n: int
    arm_sizes: tuple[int, ...]
    allocation: tuple[float, ...]
    alpha: float
    power: float
    alternative: str
    mde: float
    conventions: str


@dataclass(frozen=True)
class PowerResult:
    """Achieved (post-hoc) power at the observed effect and sample sizes."""

    method: str
    power: float
    effect: float
    n_a: int
    n_b: int
    alpha: float
    alternative: str
    conventions: str


@dataclass(frozen=True)
class HypothesisTestResult:
    """Result of a hypothesis test.

    ``effect_absolute`` is described by ``effect_label``; ``details`` holds auxiliary named
    quantities (means, variances, z, ...) as ``(name, value)`` pairs.
    """

    test: str
    alternative: str
    statistic: float
    statistic_name: str
    p_value: float
    df: float | None
    effect_label: str
    effect_absolute: float | None
    ci_absolute: tuple[float, float] | None
    effect_relative: float | None
    ci_relative: tuple[float, float] | None
    confidence_level: float | None
    conventions: str
    details: tuple[tuple[str, float], ...] = ()

    def detail(self, name: str) -> float:
        """Return the auxiliary quantity ``name`` from ``details``."""
        for key, value in self.details:
            if key == name:
                return value
        raise KeyError(name)


@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio mismatch check (chi-square goodness of fit)."""

    statistic: float
    p_value: float
    df: int
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    threshold: float
    srm_detected: bool
    conventions: str


@dataclass(frozen=True)
class HolmResult:
    """Holm step-down adjusted p-values in the input order."""

    p_values: tuple[float, ...]
    adjusted_p_values: tuple[float, ...]
    reject: tuple[bool, ...]
    alpha: float
    conventions: str


@dataclass(frozen=True)
class SequentialBoundaries:
    """Group-sequential efficacy boundaries on the Z scale, one entry per look."""

    information_fractions: tuple[float, ...]
    alpha: float
    alternative: str
    z_boundaries: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]
    incremental_alpha: tuple[float, ...]
    nominal_p_values: tuple[float, ...]
    conventions: str


@dataclass(frozen=True)
class MSPRTResult:
    """Always-valid inference for a difference in means (mixture SPRT)."""

    effect_absolute: float
    variance: float
    tau: float
    likelihood_ratio: float
    p_value: float
    ci_absolute: tuple[float, float]
    alpha: float
    conventions: str


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_alternative(alternative: str, allowed: Sequence[str] = ALTERNATIVES) -> str:
    if alternative not in allowed:
        raise ValueError(f"alternative must be one of {tuple(allowed)}, got {alternative!r}")
    return alternative


def _check_open_unit(value: float, name: str) -> float:
    value = _check_finite(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return value


def _check_finite(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _check_count(value: int, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        value = int(value)
    elif isinstance(value, numbers.Real | Decimal) and float(value).is_integer():
        value = int(value)
    else:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _to_fraction(value: float, name: str) -> Fraction:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{name} must be finite, got {value!r}")
        return Fraction(value)
    return Fraction(_check_finite(value, name))


def _mean_var(n: int, total: float, sumsq: float, label: str) -> tuple[float, float]:
    """Mean and ``n - 1`` variance from ``n``, sum and sum of squares (see module docstring)."""
    n = _check_count(n, f"n_{label}" if label else "n", minimum=2)
    s = _to_fraction(total, f"sum_{label}" if label else "sum")
    ss_raw = _to_fraction(sumsq, f"sumsq_{label}" if label else "sumsq")
    if ss_raw < 0:
        raise ValueError(f"sum of squares{' of ' + label if label else ''} must be >= 0")
    centred = ss_raw - s * s / n
    if centred < 0:
        if centred < -_SS_NEGATIVE_TOLERANCE * ss_raw:
            raise ValueError(
                f"inconsistent sufficient statistics{' for ' + label if label else ''}: "
                "sum of squares is smaller than sum**2 / n"
            )
        centred = Fraction(0)
    return float(s / n), float(centred / (n - 1))


def _z_ci(est: float, se: float, alpha: float, alternative: str) -> tuple[float, float]:
    return _ci_from_quantile(est, se, alternative, lambda q: stats.norm.isf(q), alpha)


def _t_ci(est: float, se: float, df: float, alpha: float, alternative: str) -> tuple[float, float]:
    return _ci_from_quantile(est, se, alternative, lambda q: stats.t.isf(q, df), alpha)


def _ci_from_quantile(est, se, alternative, isf, alpha) -> tuple[float, float]:
    if alternative == "two-sided":
        half = isf(alpha / 2.0) * se
        return (est - half, est + half)
    half = isf(alpha) * se
    if alternative == "larger":
        return (est - half, math.inf)
    return (-math.inf, est + half)


def _p_from_z(z: float, alternative: str) -> float:
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * stats.norm.sf(abs(z))))
    if alternative == "larger":
        return float(stats.norm.sf(z))
    return float(stats.norm.cdf(z))


def _p_from_t(t: float, df: float, alternative: str) -> float:
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * stats.t.sf(abs(t), df)))
    if alternative == "larger":
        return float(stats.t.sf(t, df))
    return float(stats.t.cdf(t, df))


# --------------------------------------------------------------------------------------------
# Planning: power and sample size
# --------------------------------------------------------------------------------------------


def _direction(alternative: str) -> float:
    return -1.0 if alternative == "smaller" else 1.0


def power_proportions(
    n: float,
    p1: float,
    p2: float,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    strict: bool = False,
) -> float:
    """Power of the two-sample test of proportions, R ``power.prop.test`` formula.

    ``n`` is the (real) size of each arm, ``p1`` the control and ``p2`` the treatment
    proportion. Normal approximation without continuity correction. With ``strict=False`` (R's
    default) the two-sided power ignores rejections on the side opposite to the true effect.
    For one-sided alternatives the power is directional: ``'larger'`` means ``p2 > p1``; an
    effect in the other direction yields power below ``alpha``.
    """
    n = _check_finite(n, "n")
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    p1 = _check_open_unit(p1, "p1")
    p2 = _check_open_unit(p2, "p2")
    alpha = _check_open_unit(alpha, "alpha")
    _check_alternative(alternative)
    return _power_prop(n, n, p1, p2, alpha, alternative, strict)


def _power_prop(n1, n2, p1, p2, alpha, alternative, strict) -> float:
    # Normal approximation to the pooled z test; for n1 == n2 this is R's power.prop.test.
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    sd0 = math.sqrt(pbar * (1.0 - pbar) * (1.0 / n1 + 1.0 / n2))
    sd1 = math.sqrt(p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2)
    diff = p2 - p1
    if alternative == "two-sided":
        q = stats.norm.isf(alpha / 2.0)
        main = stats.norm.cdf((abs(diff) - q * sd0) / sd1)
        if strict:
            main += stats.norm.cdf((-abs(diff) - q * sd0) / sd1)
        return float(main)
    q = stats.norm.isf(alpha)
    return float(stats.norm.cdf((_direction(alternative) * diff - q * sd0) / sd1))


def power_means(
    n: float,
    delta: float,
    sd: float,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    strict: bool = False,
) -> float:
    """Power of the two-sample t test, R ``power.t.test(type = "two.sample")`` formula.

    ``n`` is the (real) size of each arm, ``delta`` the true difference ``b - a`` and ``sd`` the
    common standard deviation. Noncentral t with ``nu = 2(n - 1)`` and noncentrality
    ``sqrt(n/2) * delta / sd``. ``strict`` as in :func:`power_proportions`.
    """
    n = _check_finite(n, "n")
    if n <= 1:
        raise ValueError(f"n must be > 1 (a variance is estimated), got {n}")
    delta = _check_finite(delta, "delta")
    sd = _check_finite(sd, "sd")
    if sd <= 0:
        raise ValueError(f"sd must be > 0, got {sd}")
    alpha = _check_open_unit(alpha, "alpha")
    _check_alternative(alternative)
    return _power_t(n, n, delta / sd, alpha, alternative, strict)


def _power_t(n1, n2, effect_size, alpha, alternative, strict) -> float:
    # Two-sample t test with pooled variance: df = n1 + n2 - 2,
    # ncp = effect_size / sqrt(1/n1 + 1/n2) (for n1 == n2 == n: sqrt(n/2) * effect_size).
    df = n1 + n2 - 2.0
    ncp = effect_size / math.sqrt(1.0 / n1 + 1.0 / n2)
    if alternative == "two-sided":
        crit = stats.t.isf(alpha / 2.0, df)
        power = stats.nct.sf(crit, df, abs(ncp))
        if strict:
            power += stats.nct.cdf(-crit, df, abs(ncp))
        return float(power)
    crit = stats.t.isf(alpha, df)
    return float(stats.nct.sf(crit, df, _direction(alternative) * ncp))


def _solve_n(power_fn, target: float) -> float:
    lo, hi = _N_BRACKET
    if power_fn(lo) >= target:
        return lo
    if power_fn(hi) < target:
        raise ValueError("the requested power cannot be reached with n <= 1e7 per arm")
    return float(optimize.brentq(lambda n: power_fn(n) - target, lo, hi, xtol=1e-12, rtol=1e-15))


def allocate_sample_size(
    n_per_arm: int, allocation: Sequence[float] | None = None
) -> tuple[int, tuple[int, ...], tuple[float, ...]]:
    """Spread a per-arm requirement over arms with allocation weights.

    Returns ``(total_n, arm_sizes, weights)``. The smallest arm receives at least
    ``n_per_arm`` units: with ``N = ceil(n_per_arm * sum(w) / min(w))`` arm ``i`` gets
    ``ceil(N * w_i / sum(w))`` and ``total_n`` is the sum of the arm sizes. Default: two equal
    arms.
    """
    n_per_arm = _check_count(n_per_arm, "n_per_arm", minimum=1)
    weights = (
        (1.0, 1.0)
        if allocation is None
        else tuple(_check_finite(w, "allocation weight") for w in allocation)
    )
    if len(weights) < 2:
        raise ValueError("allocation needs at least two arms")
    if any(w <= 0 for w in weights):
        raise ValueError("allocation weights must be > 0")
    # Exact rational arithmetic avoids ceil() jumping on representation error (e.g. 0.1).
    fw = [Fraction(w) for w in weights]
    ftotal = sum(fw, Fraction(0))
    required_total = math.ceil(n_per_arm * ftotal / min(fw))
    arm_sizes = tuple(math.ceil(required_total * w / ftotal) for w in fw)
    return sum(arm_sizes), arm_sizes, weights


def _sample_size_result(method, power_fn, power, alpha, alternative, mde, allocation, text):
    n = _solve_n(power_fn, power)
    n_per_arm = math.ceil(n)
    total_n, arm_sizes, weights = allocate_sample_size(n_per_arm, allocation)
    return SampleSizeResult(
        method=method,
        n=n,
        n_per_arm=n_per_arm,
        total_n=total_n,
        arm_sizes=arm_sizes,
        allocation=weights,
        alpha=alpha,
        power=power,
        alternative=alternative,
        mde=mde,
        conventions=text,
    )


def _check_mde_direction(mde: float, alternative: str) -> None:
    if mde == 0:
        raise ValueError("mde must be non-zero")
    if alternative == "larger" and mde < 0:
        raise ValueError("alternative 'larger' requires a positive mde")
    if alternative == "smaller" and mde > 0:
        raise ValueError("alternative 'smaller' requires a negative mde")


def sample_size_proportions(
    p1: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: str = "two-sided",
    allocation: Sequence[float] | None = None,
) -> SampleSizeResult:
    """Per-arm sample size for comparing two proportions (R ``power.prop.test``).

    ``p1`` is the baseline (control) proportion and ``mde`` the absolute minimum detectable
    effect, so the treatment proportion is ``p2 = p1 + mde`` (must lie in (0, 1)). Solves R's
    ``strict = FALSE`` power equation for the real ``n`` per arm; ``n_per_arm = ceil(n)``.
    ``allocation``: see :func:`allocate_sample_size`.
    """
    p1 = _check_open_unit(p1, "p1")
    mde = _check_finite(mde, "mde")
    alpha = _check_open_unit(alpha, "alpha")
    power = _check_open_unit(power, "power")
    _check_alternative(alternative)
    _check_mde_direction(mde, alternative)
    p2 = p1 + mde
    if not 0.0 < p2 < 1.0:
        raise ValueError(f"p1 + mde must be strictly between 0 and 1, got {p2!r}")
    text = (
        "R power.prop.test (strict=FALSE): normal approximation, no continuity correction, "
        f"p2 = p1 + mde, {'two-sided' if alternative == 'two-sided' else 'one-sided'} "
        f"alpha={alpha}; real root n by Brent's method, n_per_arm = ceil(n); unequal "
        "allocation gives the smallest arm n_per_arm."
    )
    return _sample_size_result(
        "two-proportion z test",
        lambda n: _power_prop(n, n, p1, p2, alpha, alternative, False),
        power,
        alpha,
        alternative,
        mde,
        allocation,
        text,
    )


def sample_size_means(
    sd: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: str = "two-sided",
    allocation: Sequence[float] | None = None,
) -> SampleSizeResult:
    """Per-arm sample size for comparing two means (R ``power.t.test``, two-sample).

    ``sd`` is the common standard deviation and ``mde`` the absolute minimum detectable
    difference ``b - a``. Solves R's ``strict = FALSE`` noncentral-t power equation for the real
    ``n`` per arm; ``n_per_arm = ceil(n)``. ``allocation``: see :func:`allocate_sample_size`.
    """
    sd = _check_finite(sd, "sd")
    if sd <= 0:
        raise ValueError(f"sd must be > 0, got {sd}")
    mde = _check_finite(mde, "mde")
    alpha = _check_open_unit(alpha, "alpha")
    power = _check_open_unit(power, "power")
    _check_alternative(alternative)
    _check_mde_direction(mde, alternative)
    text = (
        "R power.t.test (two-sample, strict=FALSE): noncentral t, df = 2(n-1), "
        f"ncp = sqrt(n/2)*mde/sd, {'two-sided' if alternative == 'two-sided' else 'one-sided'} "
        f"alpha={alpha}; real root n by Brent's method, n_per_arm = ceil(n); unequal "
        "allocation gives the smallest arm n_per_arm."
    )
    return _sample_size_result(
        "two-sample t test",
        lambda n: _power_t(n, n, mde / sd, alpha, alternative, False),
        power,
        alpha,
        alternative,
        mde,
        allocation,
        text,
    )


def planned_duration_days(total_n: int, daily_units: float) -> int:
    """Days needed to enrol ``total_n`` units at ``daily_units`` per day: ``ceil(total/daily)``."""
    total_n = _check_count(total_n, "total_n", minimum=0)
    daily_units = _check_finite(daily_units, "daily_units")
    if daily_units <= 0:
        raise ValueError(f"daily_units must be > 0, got {daily_units}")
    return math.ceil(Fraction(total_n) / Fraction(daily_units))


def achieved_power_proportions(
    n_a: int,
    x_a: int,
    n_b: int,
    x_b: int,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> PowerResult:
    """Post-hoc power of the pooled two-proportion z test at the observed proportions.

    Normal approximation: under the observed ``p_a``, ``p_b`` the difference is
    ``N(p_b - p_a, p_a q_a / n_a + p_b q_b / n_b)`` and the rejection threshold uses the null
    standard deviation ``sqrt(pbar qbar (1/n_a + 1/n_b))`` with
    ``pbar = (n_a p_a + n_b p_b) / (n_a + n_b)``. Both rejection regions count for
    two-sided tests. For equal arms this is R's ``power.prop.test`` plus the opposite tail.
    Informational only (a function of the p-value).
    """
    n_a, x_a, n_b, x_b = _check_binary_arms(n_a, x_a, n_b, x_b)
    alpha = _check_open_unit(alpha, "alpha")
    _check_alternative(alternative)
    p_a, p_b = x_a / n_a, x_b / n_b
    if not (0 < p_a < 1 and 0 < p_b < 1):
        raise ValueError("observed proportions must be strictly between 0 and 1")
    power = _power_prop(n_a, n_b, p_a, p_b, alpha, alternative, True)
    return PowerResult(
        method="two-proportion z test (pooled)",
        power=power,
        effect=p_b - p_a,
        n_a=n_a,
        n_b=n_b,
        alpha=alpha,
        alternative=alternative,
        conventions=(
            "post-hoc power at the observed p_a, p_b and arm sizes; normal approximation, "
            "null sd from the size-weighted pooled proportion, both tails for two-sided; "
            "informational only, not evidence for the null"
        ),
    )


def achieved_power_means(
    n_a: int,
    sum_a: float,
    sumsq_a: float,
    n_b: int,
    sum_b: float,
    sumsq_b: float,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> PowerResult:
    """Post-hoc power of the two-sample t test at the observed difference in means.

    Uses the pooled standard deviation ``s_p`` as the true sd: noncentral t with
    ``df = n_a + n_b - 2`` and ``ncp = (mean_b - mean_a) / (s_p sqrt(1/n_a + 1/n_b))``
    (statsmodels ``TTestIndPower.power``); both rejection regions count for two-sided tests.
    Informational only (a function of the p-value).
    """
    mean_a, var_a = _mean_var(n_a, sum_a, sumsq_a, "a")
    mean_b, var_b = _mean_var(n_b, sum_b, sumsq_b, "b")
    n_a, n_b = int(n_a), int(n_b)
    alpha = _check_open_unit(alpha, "alpha")
    _check_alternative(alternative)
    pooled = ((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2)
    if pooled <= 0:
        raise ValueError("both arms have zero variance; power is undefined")
    diff = mean_b - mean_a
    power = float(TTestIndPower().power(
        effect_size=diff / math.sqrt(pooled), nobs1=n_b, ratio=n_a / n_b, alpha=alpha, alternative=alternative,
    ))
    return PowerResult(
        method="two-sample t test (pooled sd)",
        power=power,
        effect=diff,
        n_a=n_a,
        n_b=n_b,
        alpha=alpha,
        alternative=alternative,
        conventions=(
            "post-hoc power at the observed mean difference, pooled sd and arm sizes; "
            "noncentral t, df = n_a + n_b - 2, both tails for two-sided; informational only, "
            "not evidence for the null"
        ),
    )


# --------------------------------------------------------------------------------------------
# Tests on independent arms
# --------------------------------------------------------------------------------------------


def _check_binary_arms(n_a, x_a, n_b, x_b) -> tuple[int, int, int, int]:
    n_a = _check_count(n_a, "n_a", minimum=1)
    n_b = _check_count(n_b, "n_b", minimum=1)
    x_a = _check_count(x_a, "x_a")
    x_b = _check_count(x_b, "x_b")
    if x_a > n_a:
        raise ValueError(f"x_a ({x_a}) must not exceed n_a ({n_a})")
    if x_b > n_b:
        raise ValueError(f"x_b ({x_b}) must not exceed n_b ({n_b})")
    return n_a, x_a, n_b, x_b


def two_proportion_ztest(
    n_a: int,
    x_a: int,
    n_b: int,
    x_b: int,
    alternative: str = "two-sided",
    alpha: float = 0.05,
) -> HypothesisTestResult:
    """Two-sample z test for proportions (``x`` successes out of ``n`` per arm).

    Statistic ``z = (p_b - p_a) / sqrt(p (1 - p) (1/n_a + 1/n_b))`` with the pooled
    ``p = (x_a + x_b) / (n_a + n_b)``, no continuity correction. CI for ``p_b - p_a``: unpooled
    Wald. Relative effect ``p_b / p_a - 1`` with the Katz log delta-method CI (``None`` when a
    count is zero). Raises ``ValueError`` when the pooled proportion is 0 or 1 (no variance).
    """
    n_a, x_a, n_b, x_b = _check_binary_arms(n_a, x_a, n_b, x_b)
    _check_alternative(alternative)
    alpha = _check_open_unit(alpha, "alpha")
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        raise ValueError("pooled proportion is 0 or 1: the test statistic is undefined")
    diff = p_b - p_a
    z, p_value = proportions_ztest([x_b, x_a], [n_b, n_a], alternative=alternative)
    z, p_value = float(z), float(p_value)
    se1 = math.sqrt(p_a * (1.0 - p_a) / n_a + p_b * (1.0 - p_b) / n_b)
    ci_abs = _z_ci(diff, se1, alpha, alternative)

    effect_rel: float | None = None
    ci_rel: tuple[float, float] | None = None
    if x_a > 0:
        effect_rel = p_b / p_a - 1.0
        if x_b > 0:
            log_ratio = math.log(p_b / p_a)
            se_log = math.sqrt(1.0 / x_b - 1.0 / n_b + 1.0 / x_a - 1.0 / n_a)
            low, high = _z_ci(log_ratio, se_log, alpha, alternative)
            ci_rel = (math.exp(low) - 1.0, math.exp(high) - 1.0)
    return HypothesisTestResult(
        test="two-proportion z test",
        alternative=alternative,
        statistic=z,
        statistic_name="z",
        p_value=p_value,
        df=None,
        effect_label="p_b - p_a",
        effect_absolute=diff,
        ci_absolute=ci_abs,
        effect_relative=effect_rel,
        ci_relative=ci_rel,
        confidence_level=1.0 - alpha,
        conventions=(
            "z test with pooled variance, no continuity correction (statsmodels "
            "proportions_ztest); CI for p_b - p_a: unpooled Wald; relative effect p_b/p_a - 1 "
            "with Katz log delta-method CI (se^2 = 1/x_b - 1/n_b + 1/x_a - 1/n_a)"
        ),
        details=(("p_a", p_a), ("p_b", p_b), ("pooled_p", pooled), ("se_unpooled", se1)),
    )


def welch_ttest(
    n_a: int,
    sum_a: float,
    sumsq_a: float,
    n_b: int,
    sum_b: float,
    sumsq_b: float,
    alternative: str = "two-sided",
    alpha: float = 0.05,
) -> HypothesisTestResult:
    """Welch two-sample t test on ``mean_b - mean_a`` from n, sum and sum of squares per arm.

    Welch-Satterthwaite degrees of freedom; CI with the Welch t quantile. Relative effect
    ``mean_b / mean_a - 1`` with a linear delta-method CI (normal quantile), ``None`` if
    ``mean_a == 0``. Requires ``n >= 2`` per arm and a non-zero variance in some arm.
    """
    mean_a, var_a = _mean_var(n_a, sum_a, sumsq_a, "a")
    mean_b, var_b = _mean_var(n_b, sum_b, sumsq_b, "b")
    n_a, n_b = int(n_a), int(n_b)
    _check_alternative(alternative)
    alpha = _check_open_unit(alpha, "alpha")
    vn_a, vn_b = var_a / n_a, var_b / n_b
    if vn_a + vn_b <= 0:
        raise ValueError("both arms have zero variance: the t statistic is undefined")
    se = math.sqrt(vn_a + vn_b)
    df = (vn_a + vn_b) ** 2 / (vn_a**2 / (n_a - 1) + vn_b**2 / (n_b - 1))
    diff = mean_b - mean_a
    ref = stats.ttest_ind_from_stats(
        mean_b, math.sqrt(var_b), n_b, mean_a, math.sqrt(var_a), n_a, equal_var=False,
        alternative={"larger": "greater", "smaller": "less"}.get(alternative, alternative),
    )
    t, p_value = float(ref.statistic), float(ref.pvalue)
    ci_abs = _t_ci(diff, se, df, alpha, alternative)

    effect_rel: float | None = None
    ci_rel: tuple[float, float] | None = None
    if mean_a != 0:
        effect_rel = mean_b / mean_a - 1.0
        se_rel = math.sqrt(vn_b / mean_a**2 + mean_b**2 * vn_a / mean_a**4)
        ci_rel = _z_ci(effect_rel, se_rel, alpha, alternative)
    return HypothesisTestResult(
        test="Welch two-sample t test",
        alternative=alternative,
        statistic=t,
        statistic_name="t",
        p_value=p_value,
        df=df,
        effect_label="mean_b - mean_a",
        effect_absolute=diff,
        ci_absolute=ci_abs,
        effect_relative=effect_rel,
        ci_relative=ci_rel,
        confidence_level=1.0 - alpha,
        conventions=(
            "Welch t test (unequal variances, Welch-Satterthwaite df; scipy ttest_ind "
            "equal_var=False); variances (sumsq - sum^2/n)/(n-1) in exact rational arithmetic; "
            "CI for mean_b - mean_a with Welch t quantile; relative effect mean_b/mean_a - 1 "
            "with linear delta-method CI (normal quantile)"
        ),
        details=(
            ("mean_a", mean_a),
            ("mean_b", mean_b),
            ("var_a", var_a),
            ("var_b", var_b),
            ("se", se),
        ),
    )


def mann_whitney_u(
    n_a: int,
    n_b: int,
    rank_sum_a: float,
    tie_term: float = 0.0,
    alternative: str = "two-sided",
) -> HypothesisTestResult:
    """Mann-Whitney U test (normal approximation) from the rank sum of arm ``a``.

    ``rank_sum_a`` is the sum over arm ``a`` of the average ranks in the pooled sample of
    ``N = n_a + n_b`` observations; ``tie_term = sum(t^3 - t)`` over groups of tied values.
    ``z = (U - n_a n_b / 2 - 0.5) / sigma`` with the tie-corrected ``sigma``, where ``U`` is
    ``U_b`` for ``'larger'``, ``U_a`` for ``'smaller'`` and ``max(U_a, U_b)`` for two-sided (p
    doubled, capped at 1). Reported statistic: ``U_a``. Effect: ``U_b / (n_a n_b)``.
    """
    n_a = _check_count(n_a, "n_a", minimum=1)
    n_b = _check_count(n_b, "n_b", minimum=1)
    _check_alternative(alternative)
    r_a = _check_finite(rank_sum_a, "rank_sum_a")
    tie = _check_finite(tie_term, "tie_term")
    n = n_a + n_b
    if n < 3:
        raise ValueError("Mann-Whitney U needs at least 3 observations in total")
    u_a = r_a - n_a * (n_a + 1) / 2.0
    if not (-1e-9 <= u_a <= n_a * n_b + 1e-9) or abs(2.0 * r_a - round(2.0 * r_a)) > 1e-6:
        raise ValueError(
            "rank_sum_a is impossible for these arm sizes (it must be a multiple of 0.5 in "
            f"[{n_a * (n_a + 1) / 2}, {n_a * (n_a + 1) / 2 + n_a * n_b}])"
        )
    if tie < 0 or tie > n**3 - n:
        raise ValueError(f"tie_term must be in [0, N^3 - N] = [0, {n**3 - n}], got {tie}")
    u_b = n_a * n_b - u_a
    mu = n_a * n_b / 2.0
    var = n_a * n_b / 12.0 * ((n + 1) - tie / (n * (n - 1)))
    if var <= 0:
        raise ValueError("all observations are tied: the test statistic is undefined")
    sigma = math.sqrt(var)
    if alternative == "larger":
        u_used, factor = u_b, 1.0
    elif alternative == "smaller":
        u_used, factor = u_a, 1.0
    else:
        u_used, factor = max(u_a, u_b), 2.0
    z = (u_used - mu - 0.5) / sigma
    p_value = float(min(1.0, max(0.0, factor * stats.norm.sf(z))))
    mean_rank_a = r_a / n_a
    mean_rank_b = (n * (n + 1) / 2.0 - r_a) / n_b
    return HypothesisTestResult(
        test="Mann-Whitney U test",
        alternative=alternative,
        statistic=u_a,
        statistic_name="U_a",
        p_value=p_value,
        df=None,
        effect_label="P(B > A) + P(B = A)/2 = U_b / (n_a n_b)",
        effect_absolute=u_b / (n_a * n_b),
        ci_absolute=None,
        effect_relative=None,
        ci_relative=None,
        confidence_level=None,
        conventions=(
            "Mann-Whitney U, normal approximation with tie correction and continuity "
            "correction 0.5 (scipy mannwhitneyu method='asymptotic', use_continuity=True); "
            "average ranks; statistic U_a = R_a - n_a(n_a+1)/2; effect = common-language "
            "effect size U_b/(n_a n_b); no CI"
        ),
        details=(
            ("u_a", u_a),
            ("u_b", u_b),
            ("z", z),
            ("mean_rank_a", mean_rank_a),
            ("mean_rank_b", mean_rank_b),
            ("mean_rank_difference", mean_rank_b - mean_rank_a),
        ),
    )


# --------------------------------------------------------------------------------------------
# Paired tests
# --------------------------------------------------------------------------------------------


def mcnemar_test(
    b: int,
    c: int,
    exact: bool = False,
    correction: bool = True,
    n_pairs: int | None = None,
    alpha: float = 0.05,
) -> HypothesisTestResult:
    """McNemar test for paired binary outcomes from the discordant counts (two-sided).

    ``b`` = pairs with control success and treatment failure, ``c`` = pairs with control
    failure and treatment success. Default (pinned): ``exact=False, correction=True``, the
    chi-square statistic ``(|b - c| - 1)^2 / (b + c)`` with 1 df (R ``mcnemar.test``);
    ``correction=False`` drops the ``- 1``. ``exact=True``: statistic ``min(b, c)`` and
    p-value ``min(1, 2 * BinomCDF(min(b, c); b + c, 1/2))``. If ``n_pairs`` (all pairs,
    concordant included) is given, the effect ``p_b - p_a = (c - b) / n_pairs`` is reported with
    a two-sided Wald CI, ``se = sqrt((b + c) - (c - b)^2 / n_pairs) / n_pairs``.
    """
    b = _check_count(b, "b")
    c = _check_count(c, "c")
    if b + c == 0:
        raise ValueError("McNemar test needs at least one discordant pair (b + c > 0)")
    alpha = _check_open_unit(alpha, "alpha")
    ref = _sm_mcnemar([[0, b], [c, 0]], exact=exact, correction=correction)
    statistic, p_value = float(ref.statistic), float(ref.pvalue)
    if exact:
        name, df, how = "min(b, c)", None, "exact two-sided binomial test (p = 1/2)"
    else:
        name, df = "chi2", 1.0
        how = "chi-square, 1 df, " + (
            "continuity correction (|b-c|-1)^2/(b+c)" if correction else "no continuity correction"
        )
    effect = None
    ci = None
    if n_pairs is not None:
        n_pairs = _check_count(n_pairs, "n_pairs", minimum=1)
        if n_pairs < b + c:
            raise ValueError("n_pairs must be >= b + c")
        effect = (c - b) / n_pairs
        se = math.sqrt(max(0.0, (b + c) - (c - b) ** 2 / n_pairs)) / n_pairs
        ci = _z_ci(effect, se, alpha, "two-sided")
    return HypothesisTestResult(
        test="McNemar test",
        alternative="two-sided",
        statistic=statistic,
        statistic_name=name,
        p_value=p_value,
        df=df,
        effect_label="p_b - p_a = (c - b) / n_pairs",
        effect_absolute=effect,
        ci_absolute=ci,
        effect_relative=None,
        ci_relative=None,
        confidence_level=1.0 - alpha,
        conventions=(
            f"McNemar, {how}; b = control success & treatment failure, c = control failure & "
            "treatment success; effect (c - b)/n_pairs with two-sided Wald CI when n_pairs given"
        ),
        details=(("b", float(b)), ("c", float(c))),
    )


def paired_ttest(
    n: int,
    sum_d: float,
    sumsq_d: float,
    alternative: str = "two-sided",
    alpha: float = 0.05,
) -> HypothesisTestResult:
    """Paired t test on ``d = b - a`` from n, sum and sum of squares of the differences.

    ``t = mean(d) / (s_d / sqrt(n))`` with ``n - 1`` df (scipy ``ttest_rel``); CI for the mean
    difference with the t quantile. Requires ``n >= 2`` and non-constant differences.
    """
    mean_d, var_d = _mean_var(n, sum_d, sumsq_d, "")
    n = int(n)
    _check_alternative(alternative)
    alpha = _check_open_unit(alpha, "alpha")
    if var_d <= 0:
        raise ValueError("differences have zero variance: the t statistic is undefined")
    se = math.sqrt(var_d / n)
    df = float(n - 1)
    t = mean_d / se
    return HypothesisTestResult(
        test="paired t test",
        alternative=alternative,
        statistic=t,
        statistic_name="t",
        p_value=_p_from_t(t, df, alternative),
        df=df,
        effect_label="mean(b - a)",
        effect_absolute=mean_d,
        ci_absolute=_t_ci(mean_d, se, df, alpha, alternative),
        effect_relative=None,
        ci_relative=None,
        confidence_level=1.0 - alpha,
        conventions=(
            "paired t test on d = b - a, df = n - 1 (scipy ttest_rel); variance "
            "(sumsq - sum^2/n)/(n-1) in exact rational arithmetic; t-quantile CI for mean(d)"
        ),
        details=(("mean_d", mean_d), ("var_d", var_d), ("se", se)),
    )


def wilcoxon_signed_rank(
    n_nonzero: int,
    w_plus: float,
    tie_term: float = 0.0,
    alternative: str = "two-sided",
    correction: bool = False,
) -> HypothesisTestResult:
    """Wilcoxon signed-rank test (normal approximation) on ``d = b - a``.

    Zero differences are dropped before ranking (``zero_method='wilcox'``); ``n_nonzero`` is
    the number of non-zero differences, ``w_plus`` the sum of the average ranks of ``|d|`` over
    positive differences and ``tie_term = sum(t^3 - t)`` over groups of tied ``|d|``.
    ``z = (W+ - n(n+1)/4) / sqrt(n(n+1)(2n+1)/24 - tie_term/48)``; with ``correction=True`` z is
    moved 0.5/sd towards the alternative's null side (scipy's rule). Reported statistic: ``W+``.
    """
    n = _check_count(n_nonzero, "n_nonzero", minimum=1)
    w_plus = _check_finite(w_plus, "w_plus")
    tie = _check_finite(tie_term, "tie_term")
    _check_alternative(alternative)
    total = n * (n + 1) / 2.0
    if not (-1e-9 <= w_plus <= total + 1e-9) or abs(2.0 * w_plus - round(2.0 * w_plus)) > 1e-6:
        raise ValueError(
            f"w_plus must be a multiple of 0.5 in [0, n(n+1)/2] = [0, {total}], got {w_plus}"
        )
    if tie < 0 or tie > n**3 - n:
        raise ValueError(f"tie_term must be in [0, n^3 - n] = [0, {n**3 - n}], got {tie}")
    mean = n * (n + 1) / 4.0
    var = n * (n + 1) * (2 * n + 1) / 24.0 - tie / 48.0
    if var <= 0:
        raise ValueError("the signed-rank variance is zero: the test statistic is undefined")
    sd = math.sqrt(var)
    z = (w_plus - mean) / sd
    if correction:
        if alternative == "larger":
            sign = 1.0
        elif alternative == "smaller":
            sign = -1.0
        else:
            sign = float(np.sign(z))
        z -= sign * 0.5 / sd
    w_minus = total - w_plus
    return HypothesisTestResult(
        test="Wilcoxon signed-rank test",
        alternative=alternative,
        statistic=w_plus,
        statistic_name="W+",
        p_value=_p_from_z(z, alternative),
        df=None,
        effect_label="rank-biserial (W+ - W-) / (W+ + W-)",
        effect_absolute=(w_plus - w_minus) / total,
        ci_absolute=None,
        effect_relative=None,
        ci_relative=None,
        confidence_level=None,
        conventions=(
            "Wilcoxon signed-rank on d = b - a, zeros dropped (zero_method='wilcox'), average "
            "ranks for ties in |d|, normal approximation with tie correction, continuity "
            f"correction {'on' if correction else 'off'} (scipy wilcoxon method='asymptotic'); "
            "statistic W+ (R's V); effect = matched-pairs rank-biserial; no CI"
        ),
        details=(("w_plus", w_plus), ("w_minus", w_minus), ("z", z), ("n_nonzero", float(n))),
    )


# --------------------------------------------------------------------------------------------
# Checks and multiplicity
# --------------------------------------------------------------------------------------------


def srm_chisquare(observed_counts: Sequence[int], allocation_weights: Sequence[float]) -> SRMResult:
    """Sample-ratio mismatch: Pearson chi-square goodness of fit to the planned allocation.

    Expected count of arm ``i`` is ``N * w_i / sum(w)``; ``k - 1`` df. ``srm_detected`` is
    ``p_value < SRM_P_THRESHOLD``.
    """
    observed = tuple(_check_count(x, "observed count") for x in observed_counts)
    weights = tuple(_check_finite(w, "allocation weight") for w in allocation_weights)
    if len(observed) < 2:
        raise ValueError("SRM check needs at least two arms")
    if len(observed) != len(weights):
        raise ValueError("observed_counts and allocation_weights must have the same length")
    if any(w <= 0 for w in weights):
        raise ValueError("allocation weights must be > 0")
    total = sum(observed)
    if total == 0:
        raise ValueError("SRM check needs at least one observation")
    total_w = math.fsum(weights)
    expected = tuple(total * w / total_w for w in weights)
    ref = stats.chisquare(observed, f_exp=expected)
    statistic, p_value = float(ref.statistic), float(ref.pvalue)
    df = len(observed) - 1
    return SRMResult(
        statistic=statistic,
        p_value=p_value,
        df=df,
        observed=observed,
        expected=expected,
        threshold=SRM_P_THRESHOLD,
        srm_detected=p_value < SRM_P_THRESHOLD,
        conventions=(
            "Pearson chi-square goodness of fit to the planned allocation, k-1 df (scipy "
            f"chisquare); SRM flagged when p < {SRM_P_THRESHOLD}"
        ),
    )


def holm(p_values: Sequence[float], alpha: float = 0.05) -> HolmResult:
    """Holm step-down adjusted p-values (returned in the input order) and rejections, equal to
    statsmodels ``multipletests(method='holm')`` (tested against it).

    Hand-written on purpose: statsmodels' Holm branch calls ``gc.collect()`` on every call, which
    costs 0.7 s in a worker process holding numpy/scipy/Django (measured with
    benchmarks/abtests_analysis.py: 0.03 s → 0.72 s per analysis at 100,000 events).
    """
    ps = tuple(_check_finite(p, "p-value") for p in p_values)
    if not ps:
        raise ValueError("holm needs at least one p-value")
    if any(not 0.0 <= p <= 1.0 for p in ps):
        raise ValueError("p-values must be in [0, 1]")
    alpha = _check_open_unit(alpha, "alpha")
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return HolmResult(
        p_values=ps,
        adjusted_p_values=tuple(adjusted),
        reject=tuple(p <= alpha for p in adjusted),
        alpha=alpha,
        conventions=(
            "Holm step-down: adjusted p_(i) = max_(j<=i) min(1, (m-j+1) p_(j)); reject when "
            f"adjusted p <= {alpha} (equal to statsmodels multipletests method='holm')"
        ),
    )


def holm_group_sequential(
    p_values_by_look: Sequence[Sequence[float]], thresholds: Callable[[float], Sequence[float]], alpha: float = 0.05
) -> tuple[int | None, tuple[bool, ...], tuple[float, ...]]:
    """Holm's step-down over m hypotheses tested at planned looks (Maurer & Bretz 2013, the Holm
    graph): each not yet rejected hypothesis is tested at level ``alpha / r`` (``r`` hypotheses
    left) with group-sequential nominal thresholds ``thresholds(level)[k]`` at look ``k``; when
    one is rejected at any look so far, the others are tested again at all looks so far at the
    larger level. With one look and ``thresholds(level) = [level]`` this is Holm's procedure.

    ``p_values_by_look[k][i]`` is hypothesis ``i``'s nominal p-value at look ``k`` (looks in
    order, all reached). Returns ``(first look at which anything is rejected or None, rejected
    per hypothesis, level each hypothesis was last tested at)``; only looks up to the first
    rejecting look are used, since the design stops there.
    """
    alpha = _check_open_unit(alpha, "alpha")
    looks = [tuple(_check_finite(p, "p-value") for p in row) for row in p_values_by_look]
    if not looks or not looks[0]:
        raise ValueError("holm_group_sequential needs at least one look and one hypothesis")
    m = len(looks[0])
    if any(len(row) != m for row in looks):
        raise ValueError("every look needs one p-value per hypothesis")
    cache: dict[float, Sequence[float]] = {}
    for stop in range(len(looks)):
        rejected = [False] * m
        levels = [alpha / m] * m
        while True:
            left = [i for i in range(m) if not rejected[i]]
            if not left:
                break
            level = alpha / len(left)
            bounds = cache.setdefault(level, tuple(thresholds(level)))
            newly = [i for i in left if any(looks[k][i] <= bounds[k] for k in range(stop + 1))]
            for i in left:
                levels[i] = level
            if not newly:
                break
            for i in newly:
                rejected[i] = True
        if any(rejected):
            return stop, tuple(rejected), tuple(levels)
    return None, tuple(False for _ in range(m)), tuple(levels)


# --------------------------------------------------------------------------------------------
# Sequential monitoring
# --------------------------------------------------------------------------------------------


def obrien_fleming_spending(t: float, alpha: float = 0.05) -> float:
    """Lan-DeMets O'Brien-Fleming-type spending ``2 - 2 Phi(z_(1-alpha/2) / sqrt(t))``.

    This is the cumulative one-sided alpha spent by information fraction ``t``; a two-sided
    design of total level ``alpha`` spends ``obrien_fleming_spending(t, alpha / 2)`` per side.
    """
    t = _check_finite(t, "information fraction")
    if not 0.0 < t <= 1.0:
        raise ValueError(f"information fraction must be in (0, 1], got {t}")
    alpha = _check_open_unit(alpha, "alpha")
    return float(2.0 * stats.norm.sf(stats.norm.isf(alpha / 2.0) / math.sqrt(t)))


#: Grid step for the numerical integration, as a fraction of the smallest sd of an increment.
_GRID_STEPS_PER_SD = 24
#: One-sided designs truncate the continuation region below at this many sd (mass < 1e-15).
_LOWER_TRUNCATION_SD = 8.5


def _simpson(lo: float, hi: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    m = max(3, math.ceil((hi - lo) / step))
    if m % 2:
        m += 1
    x = np.linspace(lo, hi, m + 1)
    w = np.ones(m + 1)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return x, w * (x[1] - x[0]) / 3.0


def obrien_fleming_boundaries(
    information_fractions: Sequence[float],
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> SequentialBoundaries:
    """Lan-DeMets O'Brien-Fleming-type efficacy boundaries for the given looks.

    ``information_fractions`` must be strictly increasing in (0, 1] with consecutive gaps of at
    least 0.01 (at most 50 looks). For ``'two-sided'`` the boundaries ``c_k`` are symmetric,
    ``alpha`` is the total two-sided level and each side spends
    ``obrien_fleming_spending(t, alpha / 2)`` (gsDesign/ldbounds convention), so
    ``cumulative_alpha`` (both sides) is ``2 * obrien_fleming_spending(t, alpha / 2)``. For
    ``'larger'``/``'smaller'`` ``alpha`` is one-sided, ``cumulative_alpha`` is
    ``obrien_fleming_spending(t, alpha)`` and the single boundary is ``+c_k``/``-c_k``.
    Boundaries solve, look by look,
    ``P(no crossing before k, crossing at k | H0) = alpha*(t_k) - alpha*(t_(k-1))`` for the
    Brownian-motion joint law of the Z statistics (``corr(Z_i, Z_j) = sqrt(t_i / t_j)``),
    computed by the Armitage-McPherson-Rowe recursion on the score scale ``S = Z sqrt(t)`` with
    Simpson's rule (grid step ``sqrt(min increment) / 24``). ``nominal_p_values`` are the
    per-look p-value thresholds equivalent to the boundaries.
    """
    _check_alternative(alternative)
    alpha = _check_open_unit(alpha, "alpha")
    ts = tuple(_check_finite(t, "information fraction") for t in information_fractions)
    if not ts:
        raise ValueError("at least one information fraction is required")
    if len(ts) > 50:
        raise ValueError("at most 50 looks are supported")
    if ts[0] <= 0 or ts[-1] > 1:
        raise ValueError("information fractions must lie in (0, 1]")
    gaps = [ts[0]] + [b - a for a, b in zip(ts, ts[1:], strict=False)]
    if min(gaps) < 0.01:
        raise ValueError("information fractions must increase by at least 0.01 between looks")

    two_sided = alternative == "two-sided"
    if two_sided:
        cumulative = [2.0 * obrien_fleming_spending(t, alpha / 2.0) for t in ts]
    else:
        cumulative = [obrien_fleming_spending(t, alpha) for t in ts]
    incremental = [cumulative[0]] + [
        b - a for a, b in zip(cumulative, cumulative[1:], strict=False)
    ]
    step = math.sqrt(min(gaps)) / _GRID_STEPS_PER_SD

    bounds: list[float] = []
    grid = weights = density = None
    prev_t = 0.0
    for t, spend in zip(ts, incremental, strict=True):
        delta = t - prev_t
        sd_inc = math.sqrt(delta)
        if grid is None:
            # First look: Z_1 is standard normal.
            z = stats.norm.isf(spend / 2.0) if two_sided else stats.norm.isf(spend)
            b = z * math.sqrt(t)
        else:
            b = _solve_bound(grid, weights, density, sd_inc, spend, two_sided)
        bounds.append(float(b / math.sqrt(t)))
        # Continuation density of S_k = Z_k sqrt(t_k) on (lower, b).
        lower = -b if two_sided else -_LOWER_TRUNCATION_SD * math.sqrt(t)
        new_grid, new_weights = _simpson(lower, b, step)
        if grid is None:
            new_density = stats.norm.pdf(new_grid, scale=sd_inc)
        else:
            kernel = stats.norm.pdf((new_grid[:, None] - grid[None, :]) / sd_inc) / sd_inc
            new_density = kernel @ (weights * density)
        grid, weights, density, prev_t = new_grid, new_weights, new_density, t

    sign = -1.0 if alternative == "smaller" else 1.0
    z_bounds = tuple(float(sign * c) for c in bounds)
    nominal = tuple(
        float(2.0 * stats.norm.sf(c) if two_sided else stats.norm.sf(c)) for c in bounds
    )
    return SequentialBoundaries(
        information_fractions=ts,
        alpha=alpha,
        alternative=alternative,
        z_boundaries=z_bounds,
        cumulative_alpha=tuple(cumulative),
        incremental_alpha=tuple(incremental),
        nominal_p_values=nominal,
        conventions=(
            "Lan-DeMets O'Brien-Fleming-type spending f(t; a) = 2 - 2 Phi(z_(1-a/2)/sqrt(t)), "
            + (
                "two-sided symmetric boundaries, alpha total, each side spends f(t; alpha/2) "
                "(gsDesign/ldbounds convention), reject when |Z_k| >= c_k"
                if two_sided
                else "one-sided boundary (alpha one-sided), reject when "
                + ("Z_k >= c_k" if alternative == "larger" else "Z_k <= -c_k")
            )
            + "; efficacy only; boundaries by numerical integration of the canonical joint "
            "distribution corr(Z_i, Z_j) = sqrt(t_i/t_j) (Armitage-McPherson-Rowe recursion)"
        ),
    )


def group_sequential_power(
    z_boundaries: Sequence[float], information_fractions: Sequence[float], drift: float, two_sided: bool = True
) -> float:
    """Probability of crossing the efficacy boundary in the direction of ``drift`` at some look,
    for Z statistics with mean ``drift * sqrt(t_k)`` and the canonical joint law
    (``corr(Z_i, Z_j) = sqrt(t_i / t_j)``); a trial stops at the first crossing of either side
    (two-sided) and the other side's crossings are not counted. Same recursion and grid as
    ``obrien_fleming_boundaries``, on the score scale ``S = Z sqrt(t)`` with drift per unit of
    information."""
    ts = [float(t) for t in information_fractions]
    cs = [abs(float(c)) for c in z_boundaries]
    if len(ts) != len(cs) or not ts:
        raise ValueError("one boundary per information fraction")
    mu = abs(float(drift))
    gaps = [ts[0]] + [b - a for a, b in zip(ts, ts[1:], strict=False)]
    step = math.sqrt(min(gaps)) / _GRID_STEPS_PER_SD
    power, grid, weights, density, prev_t = 0.0, None, None, None, 0.0
    for t, c in zip(ts, cs, strict=True):
        b = c * math.sqrt(t)
        delta = t - prev_t
        sd_inc, shift = math.sqrt(delta), mu * delta
        if grid is None:
            power += float(stats.norm.sf((b - shift) / sd_inc))
        else:
            power += float((weights * density) @ stats.norm.sf((b - grid - shift) / sd_inc))
        lower = -b if two_sided else min(-b, mu * t - _LOWER_TRUNCATION_SD * math.sqrt(t))
        new_grid, new_weights = _simpson(lower, b, step)
        if grid is None:
            new_density = stats.norm.pdf(new_grid, loc=shift, scale=sd_inc)
        else:
            kernel = stats.norm.pdf((new_grid[:, None] - grid[None, :] - shift) / sd_inc) / sd_inc
            new_density = kernel @ (weights * density)
        grid, weights, density, prev_t = new_grid, new_weights, new_density, t
    return power


def obrien_fleming_inflation(looks: int, alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided") -> float:
    """Maximum-sample inflation factor of a group-sequential design with ``looks`` equally spaced
    looks and Lan-DeMets O'Brien-Fleming boundaries: ``(theta_seq / theta_fixed)^2``, where
    ``theta_fixed = z_(1-alpha/k) + z_power`` (``k`` = 2 two-sided, 1 one-sided; the fixed design's
    convention) and ``theta_seq`` is the drift at which ``group_sequential_power`` reaches
    ``power``. A fixed-horizon sample size times this factor is the sequential design's maximum."""
    _check_alternative(alternative)
    alpha = _check_open_unit(alpha, "alpha")
    power = _check_open_unit(power, "power")
    looks = _check_count(looks, "looks", minimum=1)
    if looks == 1:
        return 1.0
    two_sided = alternative == "two-sided"
    fractions = [k / looks for k in range(1, looks + 1)]
    bounds = obrien_fleming_boundaries(fractions, alpha=alpha, alternative=alternative).z_boundaries
    fixed = stats.norm.isf(alpha / 2.0 if two_sided else alpha) + stats.norm.isf(1.0 - power)
    drift = optimize.brentq(
        lambda d: group_sequential_power(bounds, fractions, d, two_sided) - power, fixed * 0.5, fixed * 2.0,
        xtol=1e-12,
    )
    return float((drift / fixed) ** 2)


def _solve_bound(grid, weights, density, sd_inc, spend, two_sided) -> float:
    """Score-scale bound b with P(continue so far, cross at this look) = spend."""
    mass = weights * density

    def crossing(b: float) -> float:
        upper = stats.norm.sf((b - grid) / sd_inc)
        if two_sided:
            upper = upper + stats.norm.cdf((-b - grid) / sd_inc)
        return float(mass @ upper)

    target = math.log(spend)

    def fn(b: float) -> float:
        value = crossing(b)
        return (math.log(value) if value > 0 else -1e300) - target

    lo = 0.0
    hi = max(grid[-1], 1.0) + sd_inc
    while fn(hi) > 0:
        hi += 2.0 * sd_inc
        if hi > 1e3:
            raise ValueError("could not bracket the sequential boundary")
    if fn(lo) < 0:
        raise ValueError("alpha to spend exceeds the continuation probability")
    return float(optimize.brentq(fn, lo, hi, xtol=1e-13, rtol=1e-15))


def msprt_normal(
    n_a: int,
    sum_a: float,
    sumsq_a: float,
    n_b: int,
    sum_b: float,
    sumsq_b: float,
    tau: float,
    alpha: float = 0.05,
    previous_p_value: float = 1.0,
) -> MSPRTResult:
    """Always-valid p-value and CI for ``mean_b - mean_a`` (mixture SPRT, normal mixture).

    Johari, Pekelis & Walsh (2017), "Always valid inference", with a ``N(0, tau^2)`` mixing
    distribution over the true difference ``theta`` and the plug-in variance
    ``V = var_a / n_a + var_b / n_b`` of ``theta_hat = mean_b - mean_a``::

        Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 theta_hat^2 / (2 V (V + tau^2)))
        p      = min(previous_p_value, 1, 1 / Lambda)
        CI     = theta_hat +- sqrt(V (V + tau^2) / tau^2 * (log((V + tau^2) / V) - 2 log alpha))

    The caller must pass the previous look's p-value (running minimum) and should intersect
    the returned CI with the previous CIs; the plug-in variance makes the guarantee
    approximate in small samples. Two-sided only.
    """
    mean_a, var_a = _mean_var(n_a, sum_a, sumsq_a, "a")
    mean_b, var_b = _mean_var(n_b, sum_b, sumsq_b, "b")
    n_a, n_b = int(n_a), int(n_b)
    tau = _check_finite(tau, "tau")
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    alpha = _check_open_unit(alpha, "alpha")
    previous_p_value = _check_finite(previous_p_value, "previous_p_value")
    if not 0.0 <= previous_p_value <= 1.0:
        raise ValueError("previous_p_value must be in [0, 1]")
    v = var_a / n_a + var_b / n_b
    if v <= 0:
        raise ValueError("both arms have zero variance: the mSPRT is undefined")
    tau2 = tau * tau
    theta = mean_b - mean_a
    log_lr = 0.5 * math.log(v / (v + tau2)) + tau2 * theta**2 / (2.0 * v * (v + tau2))
    p_value = min(previous_p_value, 1.0, math.exp(-log_lr) if log_lr > -700 else 1.0)
    half = math.sqrt(v * (v + tau2) / tau2 * (math.log((v + tau2) / v) - 2.0 * math.log(alpha)))
    return MSPRTResult(
        effect_absolute=theta,
        variance=v,
        tau=tau,
        likelihood_ratio=math.exp(min(log_lr, 700.0)),
        p_value=p_value,
        ci_absolute=(theta - half, theta + half),
        alpha=alpha,
        conventions=(
            "mSPRT (Johari et al. 2017) with N(0, tau^2) mixture on mean_b - mean_a, plug-in "
            "variance var_a/n_a + var_b/n_b; always-valid p = running min of 1/Lambda; "
            "two-sided; CI = {theta: Lambda(theta) < 1/alpha}"
        ),
    )
