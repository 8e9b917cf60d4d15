"""Tests for abtests.stats against independent references.

References are scipy/statsmodels applied to raw simulated data (seeded numpy RandomState),
formulas evaluated here on the raw data, or values printed in published worked examples (R's
documentation, gsDesign / Jennison & Turnbull). No number in this file was produced by
abtests.stats. The module under test is pure Python: nothing here needs Django. As long as
abtests/stats.py, for the same reason: each statistic sits next to its references.
"""

import ast
import importlib
import math
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats._delta_method import NonlinearDeltaCov
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
S = importlib.import_module("abtests.stats")

ALTS = ["two-sided", "larger", "smaller"]
# Our 'larger' means b > a. scipy/statsmodels calls below always pass the treatment first
# (x=b) except Mann-Whitney, where U is reported for x=a as scipy does.
SCIPY_ALT = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}
SCIPY_ALT_A_FIRST = {"two-sided": "two-sided", "larger": "less", "smaller": "greater"}


def close(actual, expected, rel=1e-9, abs_=1e-12):
    return actual == pytest.approx(expected, rel=rel, abs=abs_)


def suff(x):
    """Database-style sufficient statistics of a raw array: n, sum, sum of squares."""
    x = np.asarray(x, dtype=float)
    return len(x), float(np.sum(x)), float(np.sum(x * x))


def tie_term(values):
    _, counts = np.unique(values, return_counts=True)
    counts = counts.astype(float)
    return float(np.sum(counts**3 - counts))


# --------------------------------------------------------------------------------------------
# The module must not depend on Django
# --------------------------------------------------------------------------------------------


def test_module_has_no_django_import():
    tree = ast.parse((REPO_ROOT / "abtests" / "stats.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "django" not in imported
    assert imported <= {
        "__future__",
        "statsmodels",
        "math",
        "numbers",
        "collections",
        "dataclasses",
        "decimal",
        "fractions",
        "numpy",
        "scipy",
    }


# --------------------------------------------------------------------------------------------
# Planning: proportions (R power.prop.test)
# --------------------------------------------------------------------------------------------


def r_prop_closed_form_n(p1, p2, alpha, power, sides):
    """Closed-form root of R's strict=FALSE power.prop.test equation (Fleiss, no cc)."""
    q = stats.norm.isf(alpha / sides)
    zb = stats.norm.ppf(power)
    a = math.sqrt((p1 + p2) * (2 - p1 - p2) / 2)
    b = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return ((q * a + zb * b) / abs(p2 - p1)) ** 2


def test_power_proportions_r_documentation_example():
    # R: power.prop.test(n = 50, p1 = .50, p2 = .75)  ->  power = 0.7401659 (docs: "0.740")
    assert S.power_proportions(50, 0.50, 0.75) == pytest.approx(0.7401659, abs=1e-7)


def test_sample_size_proportions_r_documentation_example():
    # R: power.prop.test(p1 = .50, p2 = .75, power = .90)  ->  "n = 76.7" (R's docs). R's
    # uniroot only guarantees ~4 significant digits, so the exact root is checked against the
    # closed form of the same equation.
    res = S.sample_size_proportions(0.50, 0.25, alpha=0.05, power=0.90)
    assert res.n == pytest.approx(76.7, abs=0.05)
    assert close(res.n, r_prop_closed_form_n(0.5, 0.75, 0.05, 0.90, 2), rel=1e-10)
    assert res.n_per_arm == math.ceil(res.n) == 77
    assert res.arm_sizes == (77, 77)
    assert res.total_n == 154


@pytest.mark.parametrize(
    "p1,mde,alpha,power,alternative",
    [
        (0.10, 0.01, 0.05, 0.80, "two-sided"),
        (0.10, 0.01, 0.05, 0.80, "larger"),
        (0.30, -0.05, 0.01, 0.90, "smaller"),
        (0.02, 0.004, 0.10, 0.85, "two-sided"),
        (0.60, -0.10, 0.05, 0.80, "two-sided"),
    ],
)
def test_sample_size_proportions_matches_closed_form(p1, mde, alpha, power, alternative):
    res = S.sample_size_proportions(p1, mde, alpha=alpha, power=power, alternative=alternative)
    sides = 2 if alternative == "two-sided" else 1
    assert close(res.n, r_prop_closed_form_n(p1, p1 + mde, alpha, power, sides), rel=1e-10)
    assert res.n_per_arm == math.ceil(res.n)
    # The power formula at the root returns the target (R's power.prop.test equation).
    q = stats.norm.isf(alpha / sides)
    p2 = p1 + mde
    r_power = stats.norm.cdf(
        (math.sqrt(res.n) * abs(mde) - q * math.sqrt((p1 + p2) * (2 - p1 - p2) / 2))
        / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    )
    assert close(r_power, power, rel=1e-10)


def test_power_proportions_directional_and_strict():
    n, p1, p2 = 400, 0.2, 0.25
    q1 = stats.norm.isf(0.05)
    sd0 = math.sqrt((p1 + p2) * (2 - p1 - p2) / 2)
    sd1 = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    assert close(
        S.power_proportions(n, p1, p2, 0.05, "larger"),
        stats.norm.cdf((math.sqrt(n) * (p2 - p1) - q1 * sd0) / sd1),
    )
    # Wrong direction: power below alpha.
    assert S.power_proportions(n, p1, p2, 0.05, "smaller") < 0.05
    q2 = stats.norm.isf(0.025)
    main = stats.norm.cdf((math.sqrt(n) * (p2 - p1) - q2 * sd0) / sd1)
    other = stats.norm.cdf((-math.sqrt(n) * (p2 - p1) - q2 * sd0) / sd1)
    assert close(S.power_proportions(n, p1, p2), main)
    assert close(S.power_proportions(n, p1, p2, strict=True), main + other)


# --------------------------------------------------------------------------------------------
# Planning: means (R power.t.test, statsmodels TTestIndPower)
# --------------------------------------------------------------------------------------------


def test_power_means_r_documentation_example():
    # R: power.t.test(n = 20, delta = 1)  ->  power = 0.8689528
    assert S.power_means(20, 1.0, 1.0) == pytest.approx(0.8689528, abs=1e-7)


def test_sample_size_means_r_documentation_examples():
    # R: power.t.test(power = .90, delta = 1)  ->  n = 22.02110
    # R: power.t.test(power = .90, delta = 1, alternative = "one.sided")  ->  n = 17.84713
    # (R's uniroot tolerance is .Machine$double.eps^0.25 ~ 1.2e-4.)
    two = S.sample_size_means(1.0, 1.0, alpha=0.05, power=0.90)
    one = S.sample_size_means(1.0, 1.0, alpha=0.05, power=0.90, alternative="larger")
    assert two.n == pytest.approx(22.02110, abs=1.2e-4)
    assert one.n == pytest.approx(17.84713, abs=1.2e-4)
    assert (two.n_per_arm, one.n_per_arm) == (23, 18)


@pytest.mark.parametrize(
    "sd,mde,alpha,power,alternative",
    [
        (1.0, 1.0, 0.05, 0.90, "larger"),
        (12.5, 2.0, 0.05, 0.80, "larger"),
        (3.0, -0.4, 0.01, 0.90, "smaller"),
        (2.0, 0.3, 0.10, 0.80, "larger"),
    ],
)
def test_sample_size_means_one_sided_matches_statsmodels(sd, mde, alpha, power, alternative):
    res = S.sample_size_means(sd, mde, alpha=alpha, power=power, alternative=alternative)
    sm_n = TTestIndPower().solve_power(
        effect_size=mde / sd, alpha=alpha, power=power, ratio=1.0, alternative=alternative
    )
    assert close(res.n, sm_n, rel=1e-6)  # statsmodels' own solver tolerance
    # Same power function exactly: evaluate statsmodels at our root.
    sm_power = TTestIndPower().power(
        effect_size=mde / sd, nobs1=res.n, alpha=alpha, ratio=1.0, alternative=alternative
    )
    assert close(sm_power, power, rel=1e-9)


@pytest.mark.parametrize("n,delta,sd,alpha", [(20, 1.0, 1.0, 0.05), (150, 0.2, 0.9, 0.01)])
def test_power_means_two_sided_vs_statsmodels(n, delta, sd, alpha):
    # statsmodels counts both rejection regions (R's strict=TRUE); R's default drops the
    # opposite one, which we compute here with scipy's noncentral t.
    df = 2 * n - 2
    ncp = math.sqrt(n / 2) * delta / sd
    opposite = stats.nct.cdf(-stats.t.isf(alpha / 2, df), df, ncp)
    sm = TTestIndPower().power(effect_size=delta / sd, nobs1=n, alpha=alpha, ratio=1.0)
    assert close(S.power_means(n, delta, sd, alpha, strict=True), sm, rel=1e-9)
    assert close(S.power_means(n, delta, sd, alpha), sm - opposite, rel=1e-9)


def test_sample_size_two_sided_vs_statsmodels():
    # Two-sided roots differ from statsmodels (strict) only by the opposite-tail mass.
    res = S.sample_size_means(1.0, 0.5, alpha=0.05, power=0.8)
    sm_n = TTestIndPower().solve_power(effect_size=0.5, alpha=0.05, power=0.8)
    assert res.n == pytest.approx(sm_n, rel=1e-5)
    assert res.n >= sm_n - 1e-6


@pytest.mark.parametrize("allocation", [(1, 1, 1), (2, 1), (0.7, 0.3), (50, 25, 25)])
def test_unequal_allocation_keeps_planned_power(allocation):
    sd, mde, power = 1.0, 0.25, 0.8
    res = S.sample_size_means(sd, mde, power=power, allocation=allocation)
    assert len(res.arm_sizes) == len(allocation)
    assert min(res.arm_sizes) >= res.n_per_arm
    assert res.total_n == sum(res.arm_sizes)
    shares = np.array(allocation, dtype=float) / sum(allocation)
    assert np.all(np.abs(np.array(res.arm_sizes) / res.total_n - shares) < 0.01)
    # Every pairwise comparison reaches the planned power (statsmodels, unequal arms).
    for i in range(len(allocation)):
        for j in range(i + 1, len(allocation)):
            ni, nj = res.arm_sizes[i], res.arm_sizes[j]
            achieved = TTestIndPower().power(
                effect_size=mde / sd, nobs1=ni, ratio=nj / ni, alpha=0.05
            )
            assert achieved >= power


def test_equal_allocation_default_and_duration():
    res = S.sample_size_proportions(0.1, 0.02, allocation=[1, 1])
    assert res.arm_sizes == (res.n_per_arm, res.n_per_arm)
    assert S.planned_duration_days(1000, 300) == 4
    assert S.planned_duration_days(900, 300) == 3
    assert S.planned_duration_days(0, 300) == 0
    assert S.planned_duration_days(10, 0.1) == 100


# --------------------------------------------------------------------------------------------
# Two proportions
# --------------------------------------------------------------------------------------------


PROP_CASES = [(5000, 0.10, 5200, 0.11), (300, 0.5, 280, 0.45), (20000, 0.02, 20000, 0.021)]


@pytest.mark.parametrize("case", range(len(PROP_CASES)))
@pytest.mark.parametrize("alternative", ALTS)
def test_two_proportion_ztest_matches_statsmodels(case, alternative):
    n_a, pa, n_b, pb = PROP_CASES[case]
    rng = np.random.RandomState(1000 + case)
    raw_a = rng.binomial(1, pa, n_a)
    raw_b = rng.binomial(1, pb, n_b)
    x_a, x_b = int(raw_a.sum()), int(raw_b.sum())
    res = S.two_proportion_ztest(n_a, x_a, n_b, x_b, alternative=alternative, alpha=0.05)

    z, p = proportions_ztest([x_b, x_a], [n_b, n_a], alternative=alternative)
    assert close(res.statistic, z)
    assert close(res.p_value, p)
    assert close(res.effect_absolute, raw_b.mean() - raw_a.mean())
    # the code calls proportions_ztest; the pooled z written out as well
    pooled = (x_a + x_b) / (n_a + n_b)
    z_ref = (x_b / n_b - x_a / n_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p_ref = {"two-sided": 2 * stats.norm.sf(abs(z_ref)), "larger": stats.norm.sf(z_ref), "smaller": stats.norm.cdf(z_ref)}
    assert close(res.statistic, z_ref) and close(res.p_value, p_ref[alternative])

    level = 0.05 if alternative == "two-sided" else 0.10  # one-sided bound = two-sided at 2a
    lo, hi = confint_proportions_2indep(
        x_b, n_b, x_a, n_a, method="wald", compare="diff", alpha=level
    )
    rlo, rhi = confint_proportions_2indep(
        x_b, n_b, x_a, n_a, method="log", compare="ratio", alpha=level
    )
    assert close(res.effect_relative, raw_b.mean() / raw_a.mean() - 1)
    if alternative in ("two-sided", "larger"):
        assert close(res.ci_absolute[0], lo)
        assert close(res.ci_relative[0], rlo - 1)
    if alternative in ("two-sided", "smaller"):
        assert close(res.ci_absolute[1], hi)
        assert close(res.ci_relative[1], rhi - 1)
    if alternative == "larger":
        assert res.ci_absolute[1] == math.inf and res.ci_relative[1] == math.inf
    if alternative == "smaller":
        # exp(-inf) - 1: the risk ratio is bounded below by 0, i.e. a relative effect of -100%.
        assert res.ci_absolute[0] == -math.inf and res.ci_relative[0] == -1.0
    assert res.confidence_level == pytest.approx(0.95)
    assert "pooled" in res.conventions and "Wald" in res.conventions


def test_two_proportion_zero_counts():
    res = S.two_proportion_ztest(100, 0, 100, 5)
    z, p = proportions_ztest([5, 0], [100, 100])
    assert close(res.statistic, z) and close(res.p_value, p)
    assert res.effect_relative is None and res.ci_relative is None
    with pytest.raises(ValueError, match="pooled proportion"):
        S.two_proportion_ztest(100, 0, 100, 0)


# --------------------------------------------------------------------------------------------
# Welch t test
# --------------------------------------------------------------------------------------------


def _welch_data(seed):
    rng = np.random.RandomState(seed)
    a = rng.lognormal(mean=3.0, sigma=0.8, size=420)
    b = rng.lognormal(mean=3.1, sigma=0.9, size=377)
    return a, b


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("alternative", ALTS)
def test_welch_matches_scipy_and_statsmodels(seed, alternative):
    a, b = _welch_data(seed)
    res = S.welch_ttest(*suff(a), *suff(b), alternative=alternative, alpha=0.05)
    ref = stats.ttest_ind(b, a, equal_var=False, alternative=SCIPY_ALT[alternative])
    assert close(res.statistic, ref.statistic)
    assert close(res.p_value, ref.pvalue)
    assert close(res.df, ref.df)
    ci = ref.confidence_interval(confidence_level=0.95)
    for ours, theirs in zip(res.ci_absolute, (ci.low, ci.high), strict=True):
        assert ours == theirs if math.isinf(theirs) else close(ours, theirs)
    assert close(res.effect_absolute, b.mean() - a.mean())
    if alternative == "two-sided":
        sm = CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(
            alpha=0.05, usevar="unequal"
        )
        assert close(res.ci_absolute[0], sm[0]) and close(res.ci_absolute[1], sm[1])


def test_welch_relative_effect_delta_method():
    a, b = _welch_data(7)
    res = S.welch_ttest(*suff(a), *suff(b), alpha=0.05)
    assert close(res.effect_relative, b.mean() / a.mean() - 1)
    cov = np.diag([a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)])
    nl = NonlinearDeltaCov(
        lambda p: np.atleast_1d(p[1] / p[0] - 1), np.array([a.mean(), b.mean()]), cov
    )
    lo, hi = np.ravel(nl.conf_int(alpha=0.05))
    # statsmodels differentiates numerically.
    assert res.ci_relative[0] == pytest.approx(lo, rel=1e-6)
    assert res.ci_relative[1] == pytest.approx(hi, rel=1e-6)
    # Exact delta-method formula evaluated on the raw data.
    se = math.sqrt(
        b.var(ddof=1) / len(b) / a.mean() ** 2
        + b.mean() ** 2 * a.var(ddof=1) / len(a) / a.mean() ** 4
    )
    z = stats.norm.isf(0.025)
    assert close(res.ci_relative[0], b.mean() / a.mean() - 1 - z * se)
    assert close(res.ci_relative[1], b.mean() / a.mean() - 1 + z * se)


def test_welch_exact_integer_sums_with_large_offset():
    # Values like cents around 1e6: integer sums from the database are exact; a naive float
    # evaluation of sumsq - sum^2/n would lose about five significant digits here.
    rng = np.random.RandomState(11)
    a = 1_000_000 + rng.randint(0, 7, size=1500)
    b = 1_000_000 + rng.randint(0, 8, size=1600)

    def int_suff(x):
        ints = [int(v) for v in x]
        return len(ints), sum(ints), sum(v * v for v in ints)

    res = S.welch_ttest(*int_suff(a), *int_suff(b))
    ref = stats.ttest_ind(b.astype(float), a.astype(float), equal_var=False)
    assert close(res.statistic, ref.statistic)
    assert close(res.p_value, ref.pvalue)
    assert close(res.df, ref.df)
    # Decimal aggregates (as returned for NUMERIC columns) take the same exact path.
    n_a, s_a, q_a = int_suff(a)
    n_b, s_b, q_b = int_suff(b)
    dec = S.welch_ttest(n_a, Decimal(s_a), Decimal(q_a), n_b, Decimal(s_b), Decimal(q_b))
    assert close(dec.p_value, ref.pvalue)


def test_welch_validation():
    with pytest.raises(ValueError, match="n_a"):
        S.welch_ttest(1, 1.0, 1.0, 5, 10.0, 30.0)
    with pytest.raises(ValueError, match="zero variance"):
        S.welch_ttest(3, 3.0, 3.0, 3, 6.0, 12.0)
    with pytest.raises(ValueError, match="inconsistent"):
        S.welch_ttest(3, 30.0, 3.0, 3, 6.0, 14.0)
    with pytest.raises(ValueError, match="alternative"):
        S.welch_ttest(3, 3.0, 5.0, 3, 6.0, 14.0, alternative="greater")


# --------------------------------------------------------------------------------------------
# Mann-Whitney U
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [21, 22, 23])
@pytest.mark.parametrize("alternative", ALTS)
def test_mann_whitney_matches_scipy_with_ties(seed, alternative):
    rng = np.random.RandomState(seed)
    a = rng.poisson(3.0, size=140)  # heavy ties
    b = rng.poisson(3.4, size=95)
    pooled = np.concatenate([a, b])
    ranks = stats.rankdata(pooled, method="average")  # what the database computes
    rank_sum_a = float(ranks[: len(a)].sum())
    res = S.mann_whitney_u(len(a), len(b), rank_sum_a, tie_term(pooled), alternative=alternative)
    ref = stats.mannwhitneyu(
        a, b, use_continuity=True, alternative=SCIPY_ALT_A_FIRST[alternative], method="asymptotic"
    )
    assert close(res.statistic, ref.statistic)
    assert close(res.p_value, ref.pvalue)
    # Common-language effect size by brute force over all pairs.
    diff = b[:, None] - a[None, :]
    cles = float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))
    assert close(res.effect_absolute, cles)
    assert close(
        res.detail("mean_rank_difference"), ranks[len(a) :].mean() - ranks[: len(a)].mean()
    )


def test_mann_whitney_no_ties_continuous():
    rng = np.random.RandomState(5)
    a, b = rng.normal(size=60), rng.normal(0.4, size=75)
    ranks = stats.rankdata(np.concatenate([a, b]))
    res = S.mann_whitney_u(60, 75, float(ranks[:60].sum()), 0.0)
    ref = stats.mannwhitneyu(a, b, method="asymptotic")
    assert close(res.p_value, ref.pvalue) and close(res.statistic, ref.statistic)


def test_mann_whitney_validation():
    with pytest.raises(ValueError, match="rank_sum_a"):
        S.mann_whitney_u(3, 3, 2.0)
    with pytest.raises(ValueError, match="rank_sum_a"):
        S.mann_whitney_u(3, 3, 10.3)
    with pytest.raises(ValueError, match="tied"):
        S.mann_whitney_u(3, 3, 10.5, 6**3 - 6)
    with pytest.raises(ValueError, match="tie_term"):
        S.mann_whitney_u(3, 3, 10.5, -1)


# --------------------------------------------------------------------------------------------
# McNemar
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("b,c", [(15, 30), (3, 9), (40, 40), (0, 7), (101, 78), (1, 0)])
@pytest.mark.parametrize("exact,correction", [(False, True), (False, False), (True, True)])
def test_mcnemar_matches_statsmodels(b, c, exact, correction):
    table = np.array([[50, b], [c, 60]])
    ref = mcnemar(table, exact=exact, correction=correction)
    res = S.mcnemar_test(b, c, exact=exact, correction=correction)
    assert close(res.statistic, ref.statistic)
    assert close(res.p_value, ref.pvalue)
    # the code calls statsmodels' mcnemar; R's formulas written out as well
    if exact:
        assert close(res.p_value, min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))
    elif b + c:
        chi2 = (abs(b - c) - (1 if correction else 0)) ** 2 / (b + c)
        assert close(res.statistic, chi2) and close(res.p_value, stats.chi2.sf(chi2, 1))


def test_mcnemar_default_is_chi_square_with_correction():
    res = S.mcnemar_test(12, 25)
    ref = mcnemar(np.array([[0, 12], [25, 0]]), exact=False, correction=True)
    assert close(res.p_value, ref.pvalue)
    assert close(res.statistic, (abs(12 - 25) - 1) ** 2 / 37)
    assert "continuity correction" in res.conventions


def test_mcnemar_paired_effect_from_raw_pairs():
    rng = np.random.RandomState(8)
    ctrl = rng.binomial(1, 0.3, 800)
    treat = np.where(rng.uniform(size=800) < 0.8, ctrl, rng.binomial(1, 0.45, 800))
    b = int(np.sum((ctrl == 1) & (treat == 0)))
    c = int(np.sum((ctrl == 0) & (treat == 1)))
    res = S.mcnemar_test(b, c, n_pairs=800)
    d = (treat - ctrl).astype(float)
    assert close(res.effect_absolute, treat.mean() - ctrl.mean())
    se = d.std(ddof=0) / math.sqrt(len(d))
    z = stats.norm.isf(0.025)
    assert close(res.ci_absolute[0], d.mean() - z * se)
    assert close(res.ci_absolute[1], d.mean() + z * se)
    ref = mcnemar(np.array([[1, b], [c, 1]]), exact=False, correction=True)
    assert close(res.p_value, ref.pvalue)


def test_mcnemar_validation():
    with pytest.raises(ValueError, match="discordant"):
        S.mcnemar_test(0, 0)
    with pytest.raises(ValueError, match="b must be"):
        S.mcnemar_test(-1, 3)
    with pytest.raises(ValueError, match="n_pairs"):
        S.mcnemar_test(5, 3, n_pairs=7)


# --------------------------------------------------------------------------------------------
# Paired t test
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [31, 32])
@pytest.mark.parametrize("alternative", ALTS)
def test_paired_ttest_matches_scipy(seed, alternative):
    rng = np.random.RandomState(seed)
    a = rng.normal(50, 10, size=230)
    b = a + rng.normal(0.8, 4, size=230)
    d = b - a
    res = S.paired_ttest(*suff(d), alternative=alternative)
    ref = stats.ttest_rel(b, a, alternative=SCIPY_ALT[alternative])
    assert close(res.statistic, ref.statistic)
    assert close(res.p_value, ref.pvalue)
    assert close(res.df, ref.df)
    ci = ref.confidence_interval(confidence_level=0.95)
    for ours, theirs in zip(res.ci_absolute, (ci.low, ci.high), strict=True):
        assert ours == theirs if math.isinf(theirs) else close(ours, theirs)
    assert close(res.effect_absolute, d.mean())


def test_paired_ttest_validation():
    with pytest.raises(ValueError, match="zero variance"):
        S.paired_ttest(4, 8.0, 16.0)
    with pytest.raises(ValueError, match="n must be >= 2"):
        S.paired_ttest(1, 8.0, 64.0)


# --------------------------------------------------------------------------------------------
# Wilcoxon signed-rank
# --------------------------------------------------------------------------------------------


def _signed_rank_suff(d):
    """What the database computes: zeros dropped, average ranks of |d|, W+, tie term."""
    d = np.asarray(d, dtype=float)
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz), method="average")
    return len(nz), float(ranks[nz > 0].sum()), float(ranks[nz < 0].sum()), tie_term(np.abs(nz))


@pytest.mark.parametrize("seed", [41, 42, 43])
@pytest.mark.parametrize("alternative", ALTS)
@pytest.mark.parametrize("correction", [False, True])
def test_wilcoxon_matches_scipy_with_ties_and_zeros(seed, alternative, correction):
    rng = np.random.RandomState(seed)
    d = np.round(rng.normal(0.3, 2.0, size=180))  # many ties and some zeros
    assert np.any(d == 0)
    n_nz, w_plus, w_minus, tt = _signed_rank_suff(d)
    res = S.wilcoxon_signed_rank(n_nz, w_plus, tt, alternative=alternative, correction=correction)
    ref = stats.wilcoxon(
        d,
        zero_method="wilcox",
        correction=correction,
        alternative=SCIPY_ALT[alternative],
        method="asymptotic",
    )
    assert close(res.p_value, ref.pvalue)
    assert res.statistic == w_plus  # W+ (R's V)
    expected_stat = min(w_plus, w_minus) if alternative == "two-sided" else w_plus
    assert close(expected_stat, ref.statistic)
    assert close(res.effect_absolute, (w_plus - w_minus) / (w_plus + w_minus))


def test_wilcoxon_validation():
    with pytest.raises(ValueError, match="w_plus"):
        S.wilcoxon_signed_rank(4, 11.0)
    with pytest.raises(ValueError, match="w_plus"):
        S.wilcoxon_signed_rank(4, 3.2)
    with pytest.raises(ValueError, match="tie_term"):
        S.wilcoxon_signed_rank(4, 5.0, 61.0)
    with pytest.raises(ValueError, match="n_nonzero"):
        S.wilcoxon_signed_rank(0, 0.0)


def test_wilcoxon_single_nonzero_difference():
    # n = 1: variance 1/4 > 0, so the approximation is defined; compare with scipy.
    res = S.wilcoxon_signed_rank(1, 1.0)
    ref = stats.wilcoxon([0.0, 2.0, 0.0], zero_method="wilcox", method="asymptotic")
    assert close(res.p_value, ref.pvalue)


# --------------------------------------------------------------------------------------------
# SRM, Holm
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "observed,weights",
    [
        ([5000, 5100], [1, 1]),
        ([5000, 5400], [1, 1]),
        ([3300, 3350, 3280], [1, 1, 1]),
        ([9050, 950], [0.9, 0.1]),
        ([700, 1300], [1, 2]),
    ],
)
def test_srm_matches_scipy_chisquare(observed, weights):
    res = S.srm_chisquare(observed, weights)
    total = sum(observed)
    w = np.array(weights, dtype=float)
    ref = stats.chisquare(observed, f_exp=total * w / w.sum())
    assert close(res.statistic, ref.statistic)
    assert close(res.p_value, ref.pvalue)
    # the code calls chisquare; Pearson's statistic written out as well
    expected = total * w / w.sum()
    pearson = float(np.sum((np.asarray(observed) - expected) ** 2 / expected))
    assert close(res.statistic, pearson) and close(res.p_value, stats.chi2.sf(pearson, len(observed) - 1))
    assert res.df == len(observed) - 1
    assert res.srm_detected == (ref.pvalue < 0.001)
    assert res.threshold == S.SRM_P_THRESHOLD == 0.001


def test_srm_flags_clear_mismatch():
    assert S.srm_chisquare([5000, 5400], [1, 1]).srm_detected
    assert not S.srm_chisquare([5000, 5050], [1, 1]).srm_detected
    with pytest.raises(ValueError, match="same length"):
        S.srm_chisquare([1, 2, 3], [1, 1])
    with pytest.raises(ValueError, match="> 0"):
        S.srm_chisquare([1, 2], [1, 0])


@pytest.mark.parametrize("seed", [51, 52, 53])
def test_holm_matches_statsmodels(seed):
    rng = np.random.RandomState(seed)
    p = np.concatenate([rng.uniform(0, 0.05, 4), rng.uniform(0, 1, 6), [0.01, 0.01, 1.0]])
    rng.shuffle(p)
    reject, corrected, _, _ = multipletests(p, alpha=0.05, method="holm")
    res = S.holm(list(p), alpha=0.05)
    assert np.allclose(res.adjusted_p_values, corrected, rtol=1e-12, atol=0)
    assert list(res.reject) == list(reject)


def test_holm_validation():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        S.holm([0.2, 1.5])
    with pytest.raises(ValueError, match="at least one"):
        S.holm([])


# --------------------------------------------------------------------------------------------
# Achieved (post-hoc) power
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alternative", ALTS)
def test_achieved_power_means_matches_the_noncentral_t(alternative):
    rng = np.random.RandomState(61)
    a = rng.normal(10.0, 3.0, 250)
    b = rng.normal(10.6, 3.3, 310)
    res = S.achieved_power_means(*suff(a), *suff(b), alpha=0.05, alternative=alternative)
    pooled_sd = math.sqrt(
        ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)
    )
    # the code calls statsmodels' TTestIndPower; the reference is the noncentral t written out
    df = len(a) + len(b) - 2
    ncp = (b.mean() - a.mean()) / pooled_sd / math.sqrt(1 / len(a) + 1 / len(b))
    if alternative == "two-sided":
        crit = stats.t.isf(0.025, df)
        ref = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
    elif alternative == "larger":
        ref = stats.nct.sf(stats.t.isf(0.05, df), df, ncp)
    else:
        ref = stats.nct.cdf(-stats.t.isf(0.05, df), df, ncp)
    assert close(res.power, ref)


def test_achieved_power_proportions_equal_arms_closed_form():
    n, x_a, x_b = 1500, 150, 190
    res = S.achieved_power_proportions(n, x_a, n, x_b)
    p1, p2 = x_a / n, x_b / n
    q = stats.norm.isf(0.025)
    sd0 = math.sqrt((p1 + p2) * (2 - p1 - p2) / 2)
    sd1 = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    expected = stats.norm.cdf((math.sqrt(n) * abs(p2 - p1) - q * sd0) / sd1) + stats.norm.cdf(
        (-math.sqrt(n) * abs(p2 - p1) - q * sd0) / sd1
    )
    assert close(res.power, expected)


@pytest.mark.parametrize("alternative", ["two-sided", "larger"])
def test_achieved_power_proportions_monte_carlo(alternative):
    n_a, x_a, n_b, x_b = 2000, 200, 1500, 185
    res = S.achieved_power_proportions(n_a, x_a, n_b, x_b, alternative=alternative)
    rng = np.random.RandomState(62)
    sims = 40_000
    xa = rng.binomial(n_a, x_a / n_a, sims)
    xb = rng.binomial(n_b, x_b / n_b, sims)
    pooled = (xa + xb) / (n_a + n_b)
    z = (xb / n_b - xa / n_a) / np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if alternative == "two-sided":
        rate = np.mean(np.abs(z) >= stats.norm.isf(0.025))
    else:
        rate = np.mean(z >= stats.norm.isf(0.05))
    mc_se = math.sqrt(rate * (1 - rate) / sims)
    # Normal-approximation error of the power formula itself is below 0.01 at these sizes.
    assert abs(res.power - rate) < 4 * mc_se + 0.01


# --------------------------------------------------------------------------------------------
# Group-sequential boundaries
# --------------------------------------------------------------------------------------------

# Lan-DeMets O'Brien-Fleming spending, K = 5 equally spaced looks, one-sided alpha = 0.025 or
# two-sided alpha = 0.05 (gsDesign sfLDOF; Jennison & Turnbull): printed to 3 decimals.
PUBLISHED_OBF_K5 = [4.877, 3.357, 2.680, 2.290, 2.031]
T5 = [0.2, 0.4, 0.6, 0.8, 1.0]


def test_obf_published_boundaries_two_sided():
    res = S.obrien_fleming_boundaries(T5, alpha=0.05, alternative="two-sided")
    assert np.allclose(res.z_boundaries, PUBLISHED_OBF_K5, atol=2e-3, rtol=0)
    assert res.cumulative_alpha[-1] == pytest.approx(0.05, rel=1e-12)
    assert np.all(np.diff(res.cumulative_alpha) > 0)
    assert np.allclose(res.nominal_p_values, 2 * stats.norm.sf(PUBLISHED_OBF_K5), rtol=2e-2)


@pytest.mark.parametrize("alternative,sign", [("larger", 1.0), ("smaller", -1.0)])
def test_obf_published_boundaries_one_sided(alternative, sign):
    res = S.obrien_fleming_boundaries(T5, alpha=0.025, alternative=alternative)
    assert np.allclose(res.z_boundaries, sign * np.array(PUBLISHED_OBF_K5), atol=2e-3, rtol=0)
    assert res.cumulative_alpha[-1] == pytest.approx(0.025, rel=1e-12)


def test_obf_spending_function_values():
    # alpha*(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)), evaluated here directly.
    for t in (0.1, 0.25, 0.5, 0.9, 1.0):
        expected = 2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - 0.025 / 2) / math.sqrt(t))
        assert close(S.obrien_fleming_spending(t, 0.025), expected)


@pytest.mark.parametrize(
    "ts,alternative,alpha",
    [
        (T5, "two-sided", 0.05),
        ([0.3, 0.7, 1.0], "two-sided", 0.05),
        ([0.25, 0.5, 0.75, 1.0], "larger", 0.05),
        ([0.1, 0.45, 1.0], "smaller", 0.01),
    ],
)
def test_obf_boundaries_against_multivariate_normal(ts, alternative, alpha):
    """Independent check with scipy's multivariate normal CDF (Genz)."""
    res = S.obrien_fleming_boundaries(ts, alpha=alpha, alternative=alternative)
    t = np.array(ts)
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    c = np.abs(np.array(res.z_boundaries))
    for k in range(1, len(ts) + 1):
        cov = corr[:k, :k]
        if alternative == "two-sided":
            stay = stats.multivariate_normal.cdf(
                c[:k],
                mean=np.zeros(k),
                cov=cov,
                lower_limit=-c[:k],
                abseps=1e-8,
                releps=1e-8,
                rng=np.random.default_rng(k),
            )
        else:
            stay = stats.multivariate_normal.cdf(
                c[:k],
                mean=np.zeros(k),
                cov=cov,
                abseps=1e-8,
                releps=1e-8,
                rng=np.random.default_rng(k),
            )
        assert 1 - stay == pytest.approx(res.cumulative_alpha[k - 1], abs=2e-6)


def test_obf_type_one_error_monte_carlo():
    res = S.obrien_fleming_boundaries(T5, alpha=0.05)
    rng = np.random.RandomState(2024)
    draws = 200_000
    t = np.array(T5)
    increments = rng.normal(size=(draws, len(t))) * np.sqrt(np.diff(np.concatenate([[0], t])))
    z = np.cumsum(increments, axis=1) / np.sqrt(t)
    crossed = np.abs(z) >= np.array(res.z_boundaries)
    first_cross = np.cumsum(crossed, axis=1) > 0
    for k in range(len(t)):
        rate = first_cross[:, k].mean()
        target = res.cumulative_alpha[k]
        se = math.sqrt(max(target, 1e-6) * (1 - target) / draws)
        assert abs(rate - target) < 4 * se + 1e-5
    assert first_cross[:, -1].mean() == pytest.approx(0.05, abs=4 * math.sqrt(0.05 * 0.95 / draws))


def test_obf_validation():
    with pytest.raises(ValueError, match="increase"):
        S.obrien_fleming_boundaries([0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        S.obrien_fleming_boundaries([0.5, 1.2])
    with pytest.raises(ValueError, match="alternative"):
        S.obrien_fleming_boundaries([0.5, 1.0], alternative="less")


# --------------------------------------------------------------------------------------------
# mSPRT
# --------------------------------------------------------------------------------------------


def _mixture_lr(theta_hat, theta0, v, tau):
    """Mixture likelihood ratio by quadrature.

    Lambda = int N(theta_hat; th, V) N(th; theta0, tau^2) dth / N(theta_hat; theta0, V).
    """
    num, _ = integrate.quad(
        lambda th: stats.norm.pdf(theta_hat, th, math.sqrt(v)) * stats.norm.pdf(th, theta0, tau),
        theta0 - 40 * tau,
        theta0 + 40 * tau,
        epsabs=0,
        epsrel=1e-12,
        limit=200,
        points=[theta_hat],
    )
    return num / stats.norm.pdf(theta_hat, theta0, math.sqrt(v))


def test_msprt_likelihood_ratio_and_ci_by_integration():
    rng = np.random.RandomState(71)
    a = rng.normal(5.0, 2.0, 900)
    b = rng.normal(5.25, 2.2, 950)
    tau = 0.3
    res = S.msprt_normal(*suff(a), *suff(b), tau=tau, alpha=0.05)
    v = a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)
    theta_hat = b.mean() - a.mean()
    assert close(res.variance, v)
    assert close(res.effect_absolute, theta_hat)
    lr = _mixture_lr(theta_hat, 0.0, v, tau)
    assert close(res.likelihood_ratio, lr, rel=1e-8)
    assert close(res.p_value, min(1.0, 1 / lr), rel=1e-8)
    # The always-valid CI endpoints are where Lambda(theta0) = 1/alpha.
    for endpoint in res.ci_absolute:
        assert _mixture_lr(theta_hat, endpoint, v, tau) == pytest.approx(1 / 0.05, rel=1e-8)
    # Running minimum.
    assert S.msprt_normal(*suff(a), *suff(b), tau=tau, previous_p_value=1e-4).p_value == 1e-4


def test_msprt_type_one_error_monte_carlo():
    rng = np.random.RandomState(72)
    sequences, looks, batch = 400, 15, 100
    rejected = 0
    for _ in range(sequences):
        a = rng.normal(0.0, 1.0, looks * batch)
        b = rng.normal(0.0, 1.0, looks * batch)
        p = 1.0
        for k in range(1, looks + 1):
            n = k * batch
            p = S.msprt_normal(*suff(a[:n]), *suff(b[:n]), tau=0.1, previous_p_value=p).p_value
        rejected += p <= 0.05
    rate = rejected / sequences
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sequences)


# --------------------------------------------------------------------------------------------
# Input validation shared by the planning functions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: S.sample_size_proportions(0.0, 0.1),
        lambda: S.sample_size_proportions(0.5, 0.6),
        lambda: S.sample_size_proportions(0.5, 0.0),
        lambda: S.sample_size_proportions(0.5, -0.1, alternative="larger"),
        lambda: S.sample_size_proportions(0.5, 0.1, alpha=1.2),
        lambda: S.sample_size_proportions(0.5, 0.1, power=1.0),
        lambda: S.sample_size_proportions(0.5, 0.1, alternative="one.sided"),
        lambda: S.sample_size_means(0.0, 1.0),
        lambda: S.sample_size_means(1.0, 1.0, allocation=[1]),
        lambda: S.sample_size_means(1.0, 1.0, allocation=[1, 0]),
        lambda: S.sample_size_means(1.0, 0.1, alternative="smaller"),
        lambda: S.power_means(1, 1.0, 1.0),
        lambda: S.power_proportions(10, 0.5, 1.0),
        lambda: S.planned_duration_days(100, 0),
        lambda: S.two_proportion_ztest(10, 11, 10, 3),
        lambda: S.two_proportion_ztest(0, 0, 10, 3),
        lambda: S.two_proportion_ztest(10, 2.5, 10, 3),
        lambda: S.achieved_power_proportions(10, 0, 10, 3),
        lambda: S.msprt_normal(10, 1.0, 2.0, 10, 1.0, 2.0, tau=0.0),
    ],
)
def test_invalid_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
