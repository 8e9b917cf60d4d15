"""monitoring/drift.py against scipy, statsmodels and independent formulas on the raw rows."""

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from monitoring import drift


def reference_of(x, cap=None):
    x = np.asarray(x, float)
    values, counts = np.unique(x, return_counts=True)
    small = drift.SmallCounter()
    small.add(x)
    return drift.NumericReference(values=values, counts=counts, n=x.size, std=float(np.std(x)),
                                  small_counts=small.result)


def summary_in_batches(ref, x, batches=3):
    parts = [drift.summarise_numeric(ref.values, chunk) for chunk in np.array_split(np.asarray(x, float), batches)]
    out = parts[0]
    for p in parts[1:]:
        out = out.merge(p)
    return out


@pytest.mark.parametrize("n_ref,n_cur,shift", [(300, 400, 0.0), (800, 50_000, 0.2), (1000, 20_000, 0.0)])
def test_ks_from_summary_equals_scipy_on_raw_rows(n_ref, n_cur, shift):
    rng = np.random.default_rng(1)
    ref_x = np.round(rng.normal(size=n_ref), 2)  # rounding makes ties between the samples
    cur_x = np.round(rng.normal(shift, 1, size=n_cur), 2)
    ref = reference_of(ref_x)
    d, p = drift.ks_from_summary(ref, summary_in_batches(ref, cur_x))
    expected = stats.ks_2samp(ref_x, cur_x)
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_wasserstein_from_summary_equals_scipy_on_raw_rows():
    rng = np.random.default_rng(2)
    ref_x = rng.normal(size=20_000)
    cur_x = np.concatenate([rng.normal(0.3, 1.3, size=60_000), ref_x[:500], [-9.0, 12.0]])
    ref = reference_of(ref_x)
    got = drift.wasserstein_from_summary(ref, summary_in_batches(ref, cur_x, 4))
    assert got == pytest.approx(stats.wasserstein_distance(ref_x, cur_x), rel=1e-6)
    # A skewed feature: wide gaps in the sparse tail, filled so the crossing gaps stay narrow.
    ref_x, cur_x = rng.lognormal(0, 1, 50_000).round(6), rng.lognormal(0.1, 1, 200_000).round(6)
    values, counts = drift.filled_grid(*np.unique(ref_x, return_counts=True))
    ref = drift.NumericReference(values=values, counts=counts, n=ref_x.size, std=float(np.std(ref_x)))
    cur = summary_in_batches(ref, cur_x)
    assert drift.wasserstein_from_summary(ref, cur) == pytest.approx(stats.wasserstein_distance(ref_x, cur_x), rel=1e-6)
    expected = stats.ks_2samp(ref_x, cur_x)
    assert drift.ks_from_summary(ref, cur) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-9)
    normed = drift.wasserstein_norm_from_summary(ref, summary_in_batches(ref, cur_x))
    assert normed == pytest.approx(stats.wasserstein_distance(ref_x, cur_x) / np.std(ref_x), rel=1e-6)


def test_counts_tests_equal_independent_formulas():
    ref = {"a": 50, "b": 30, "c": 20}
    cur = {"a": 30, "b": 30, "c": 35, "d": 5}
    keys = ["a", "b", "c", "d"]
    r = np.array([ref.get(k, 0) for k in keys], float)
    c = np.array([cur.get(k, 0) for k in keys], float)
    expected_chi = stats.chisquare(c[:3], r[:3] * c[:3].sum() / r[:3].sum())[1]
    assert drift.chisquare_counts(ref, {"a": 30, "b": 30, "c": 35}) == pytest.approx(expected_chi)
    # Jensen–Shannon distance: sqrt of the mean KL divergence to the midpoint (natural log).
    p, q = r / r.sum(), c / c.sum()
    m = (p + q) / 2
    kl = lambda a, b: np.sum(np.where(a > 0, a * np.log(np.where(a > 0, a, 1) / b), 0))  # noqa: E731
    assert drift.jensenshannon_counts(ref, cur) == pytest.approx(np.sqrt((kl(p, m) + kl(q, m)) / 2))
    assert drift.jensenshannon_counts(ref, cur) == pytest.approx(distance.jensenshannon(p, q))


def test_ztest_equals_statsmodels_proportions_ztest():
    from statsmodels.stats.proportion import proportions_ztest

    ref, cur = {"no": 700, "yes": 300}, {"no": 620, "yes": 380}
    _, expected = proportions_ztest([300, 380], [1000, 1000], prop_var=False)
    assert drift.ztest_counts(ref, cur) == pytest.approx(expected, rel=1e-9)
    assert drift.ztest_counts({"x": 10}, {"x": 40}) == 1.0


def test_psi_on_reference_deciles_equals_formula():
    rng = np.random.default_rng(3)
    ref_x = rng.normal(size=10_000)
    cur_x = rng.normal(0.7, 1, size=10_000)
    ref = reference_of(ref_x)
    result = drift.numeric_drift("x", ref, drift.summarise_numeric(ref.values, cur_x), method="psi")
    edges = ref.inner_edges
    assert edges.size == 9
    rb = np.bincount(np.searchsorted(edges, ref_x, side="right"), minlength=10) / ref_x.size
    cb = np.bincount(np.searchsorted(edges, cur_x, side="right"), minlength=10) / cur_x.size
    assert rb == pytest.approx(np.full(10, 0.1), abs=0.001)  # deciles: a tenth each
    assert result.statistic == pytest.approx(np.sum((rb - cb) * np.log(rb / cb)))
    assert result.psi_band == drift.psi_band(result.statistic) == "drift"  # 0.7 sd shift
    assert drift.psi_band(0.05) == "ok" and drift.psi_band(0.1) == "warning" and drift.psi_band(0.25) == "drift"


@pytest.mark.parametrize("kind,n_ref,n_values,expected", [
    ("numeric", 1000, 6, "ks"), ("numeric", 1000, 5, "chisquare"), ("numeric", 1000, 2, "z"),
    ("numeric", 1001, 6, "wasserstein"), ("numeric", 1001, 5, "jensenshannon"),
    ("categorical", 1000, 3, "chisquare"), ("categorical", 1000, 2, "z"),
    ("categorical", 1001, 2, "jensenshannon"), ("categorical", 50_000, 40, "jensenshannon"),
])
def test_method_selection_rule_is_evidentlys_default(kind, n_ref, n_values, expected):
    assert drift.select_method(kind, n_ref, n_values) == expected


def test_shifted_data_flagged_same_distribution_not():
    rng = np.random.default_rng(42)
    for n_ref in (500, 20_000):  # KS and Wasserstein
        ref_x = rng.normal(size=n_ref)
        ref = reference_of(ref_x)
        same = drift.numeric_drift("x", ref, drift.summarise_numeric(ref.values, rng.normal(size=5000)))
        shifted = drift.numeric_drift("x", ref, drift.summarise_numeric(ref.values, rng.normal(0.5, 1, 5000)))
        assert same.method == shifted.method == ("ks" if n_ref <= 1000 else "wasserstein")
        assert not same.drifted and shifted.drifted
    cats = ["a", "b", "c"]
    ref_counts = drift.summarise_categorical(rng.choice(cats, 5000, p=[0.5, 0.3, 0.2]))
    same = drift.categorical_drift("c", ref_counts, drift.summarise_categorical(rng.choice(cats, 5000, p=[0.5, 0.3, 0.2])))
    moved = drift.categorical_drift("c", ref_counts, drift.summarise_categorical(rng.choice(cats, 5000, p=[0.2, 0.3, 0.5])))
    assert same.method == "jensenshannon" and not same.drifted and moved.drifted


def test_bh_adjustment_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    reject, adjusted = drift.bh_adjust(p, 0.05)
    exp_reject, exp_adjusted, _, _ = multipletests(p, alpha=0.05, method="fdr_bh")
    assert reject == list(exp_reject)
    assert adjusted == pytest.approx(list(exp_adjusted))
    # Independent check of the step-up rule: reject p_(i) ≤ i/m·α up to the largest such i.
    m = len(p)
    largest = max(i for i in range(1, m + 1) if sorted(p)[i - 1] <= i / m * 0.05)
    assert sum(reject) == largest == 2


def test_dataset_drift_share():
    assert drift.dataset_drift([True, False]).dataset_drift  # 0.5 reaches the default share
    assert drift.dataset_drift([True, False, False]).status == "warning"
    assert drift.dataset_drift([False, False]).status == "ok"
    assert drift.dataset_drift([True, True, False], drift_share=0.7).status == "warning"


def test_reservoir_keeps_all_below_cap_and_a_uniform_sample_beyond():
    r = drift.ReservoirSorted(cap=1000)
    r.add(np.arange(600.0))
    r.add(np.arange(600.0, 900.0))
    assert not r.sampled and sorted(r.sample) == list(np.arange(900.0))
    r = drift.ReservoirSorted(cap=2000)
    for chunk in np.array_split(np.arange(100_000.0), 7):
        r.add(chunk)
    assert r.sampled and r.sample.size == 2000 and np.unique(r.sample).size == 2000
    # Uniform: the sample's mean is within 4 standard errors of the population mean.
    se = np.std(np.arange(100_000.0)) / np.sqrt(2000)
    assert abs(r.sample.mean() - 49_999.5) < 4 * se


def test_streaming_moments_equal_numpy():
    rng = np.random.default_rng(5)
    x = rng.normal(3, 2, 10_001)
    m = drift.StreamingMoments()
    for chunk in np.array_split(x, 9):
        m.add(chunk)
    assert m.n == x.size and m.mean == pytest.approx(x.mean()) and m.std == pytest.approx(np.std(x))
