"""Analyses through the API, each checked against scipy/statsmodels on the raw events uploaded.

Each test uploads more events than the design plans: the verdict reads the first planned units of
each arm (in event-time order; here all share the upload time, so upload order), and the
reference is computed on those rows."""

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from abtests.models import Analysis

from .conftest import ab_csv, csv_body, ndjson_body, shadow_csv

pytestmark = pytest.mark.django_db


def close(x, ref):
    return x == pytest.approx(ref, rel=1e-9, abs=1e-12)


def primary(result):
    (metric,) = [m for m in result["metrics"] if m["role"] == "primary"]
    return metric


@pytest.mark.parametrize("alternative", ["two-sided", "larger"])
def test_welch_matches_scipy(make_experiment, upload, analyse, alternative):
    rng = np.random.default_rng(1)
    a, b = rng.normal(10.0, 2.0, 300), rng.normal(10.4, 3.0, 260)
    exp = make_experiment("welch_t", alternative=alternative)
    assert upload(exp, ab_csv(a, b)).status_code == 201
    result = analyse(exp)
    n = exp.n_per_arm
    assert n < 260
    a, b = a[:n], b[:n]
    assert result["status"] == "completed"
    m = primary(result)
    ref = sps.ttest_ind(b, a, equal_var=False, alternative={"two-sided": "two-sided", "larger": "greater"}[alternative])
    assert close(m["p_value"], ref.pvalue) and close(m["statistic"], ref.statistic)
    assert close(m["effect_absolute"], b.mean() - a.mean())
    ci = ref.confidence_interval(0.95)
    assert close(m["ci_absolute"][0], ci.low)
    if alternative == "two-sided":
        assert close(m["ci_absolute"][1], ci.high)
    else:
        assert m["ci_absolute"][1] is None  # +inf: one-sided interval
    assert close(m["effect_relative"], b.mean() / a.mean() - 1)
    assert m["n"] == {"control": n, "treatment": n}
    assert result["results"]["horizon"]["arms"][0] == {"name": "control", "planned": n, "analysed": n, "past_horizon": 300 - n}
    assert 0 < m["achieved_power"] < 1 and "Welch" in m["conventions"]
    assert result["data_quality"]["srm_p_value"] == pytest.approx(sps.chisquare([300, 260]).pvalue, rel=1e-9)
    analysis = Analysis.objects.get(pk=result["id"])
    assert len(analysis.code_version["stats_sha256"]) == 64
    assert analysis.input_counts["events"] == 560


def test_mann_whitney_with_ties_matches_scipy(make_experiment, upload, analyse):
    rng = np.random.default_rng(2)
    a, b = rng.poisson(3.0, 240).astype(float), rng.poisson(3.4, 200).astype(float)
    exp = make_experiment("mann_whitney_u")
    upload(exp, ab_csv(a, b))
    m = primary(analyse(exp))
    a, b = a[: exp.n_per_arm], b[: exp.n_per_arm]
    ref = sps.mannwhitneyu(a, b, use_continuity=True, alternative="two-sided", method="asymptotic")
    assert close(m["p_value"], ref.pvalue) and close(m["statistic"], ref.statistic)
    diff = b[:, None] - a[None, :]
    assert close(m["effect_absolute"], float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0)))


def test_mann_whitney_per_arm_with_missing_values_matches_scipy(make_experiment, upload, analyse, versions):
    """Three arms: each challenger is ranked against the control alone; rows without a value count
    as exposures and missing values but stay out of the test (one pass gives both)."""
    rng = np.random.default_rng(12)
    samples = {"v1": rng.poisson(3.0, 240), "v2": rng.poisson(3.5, 200), "v3": rng.poisson(2.8, 220)}
    missing = {"v1": 3, "v2": 0, "v3": 5}
    exp = make_experiment("mann_whitney_u", challengers=versions[1:])
    # the missing values first, so they fall inside the planned horizon
    rows = [(f"{arm}-m{i}", arm, "") for arm, k in missing.items() for i in range(k)]
    rows += [(f"{arm}-{i}", arm, repr(float(v))) for arm, xs in samples.items() for i, v in enumerate(xs)]
    assert upload(exp, csv_body(["unit_id", "arm", "value"], rows)).status_code == 201
    result = analyse(exp)
    assert result["status"] == "completed"
    dq = result["data_quality"]
    assert dq["missing_values"] == 8
    assert dq["observed"] == {arm: len(xs) + missing[arm] for arm, xs in samples.items()}
    assert result["input_counts"]["events"] == 668
    by_arm = {m["arm"]: m for m in result["metrics"] if m["role"] == "primary"}
    n = exp.n_per_arm  # equal allocation: every arm plans n_per_arm units
    a = samples["v1"][: n - missing["v1"]].astype(float)
    for arm in ("v2", "v3"):
        b = samples[arm][: n - missing[arm]].astype(float)
        ref = sps.mannwhitneyu(a, b, use_continuity=True, alternative="two-sided", method="asymptotic")
        m = by_arm[arm]
        assert close(m["p_value"], ref.pvalue) and close(m["statistic"], ref.statistic)
        assert m["n"] == {"v1": len(a), arm: len(b)}


def test_two_proportions_with_holm_secondaries_match_statsmodels(make_experiment, upload, analyse):
    rng = np.random.default_rng(3)
    n_a, n_b = 900, 880
    conv = [rng.binomial(1, 0.30, n_a), rng.binomial(1, 0.36, n_b)]
    clicks = [rng.binomial(1, 0.5, n_a), rng.binomial(1, 0.53, n_b)]
    spend = [rng.gamma(2.0, 10.0, n_a), rng.gamma(2.0, 10.5, n_b)]
    exp = make_experiment(
        "two_proportion_z",
        secondary_metrics=[{"name": "clicked", "type": "binary"}, {"name": "spend", "type": "continuous"}],
    )
    records = [
        {"unit_id": f"{arm}{i}", "arm": arm, "value": int(conv[k][i]), "clicked": int(clicks[k][i]), "spend": float(spend[k][i])}
        for k, arm in enumerate(["control", "treatment"]) for i in range(len(conv[k]))
    ]
    assert upload(exp, ndjson_body(records), content_type="application/x-ndjson").status_code == 201
    result = analyse(exp)
    m = primary(result)
    n_a = n_b = exp.n_per_arm
    conv, clicks, spend = ([x[0][:n_a], x[1][:n_b]] for x in (conv, clicks, spend))
    x_a, x_b = int(conv[0].sum()), int(conv[1].sum())
    z, p = proportions_ztest([x_b, x_a], [n_b, n_a])
    assert close(m["p_value"], p) and close(m["statistic"], z)
    assert close(m["effect_absolute"], x_b / n_b - x_a / n_a)
    assert close(m["effect_relative"], (x_b / n_b) / (x_a / n_a) - 1)
    secondary = {s["metric"]: s for s in result["metrics"] if s["role"] == "secondary"}
    p_click = proportions_ztest([clicks[1].sum(), clicks[0].sum()], [n_b, n_a])[1]
    p_spend = sps.ttest_ind(spend[1], spend[0], equal_var=False).pvalue
    assert close(secondary["clicked"]["p_value"], p_click) and close(secondary["spend"]["p_value"], p_spend)
    holm = multipletests([p_click, p_spend], method="holm")[1]
    assert close(secondary["clicked"]["p_value_holm"], holm[0]) and close(secondary["spend"]["p_value_holm"], holm[1])


def test_paired_t_matches_scipy(make_experiment, upload, analyse):
    rng = np.random.default_rng(4)
    champion = rng.normal(1.0, 0.5, 200)
    challenger = champion + rng.normal(-0.2, 0.3, 200)
    exp = make_experiment("paired_t")
    upload(exp, shadow_csv(champion, challenger))
    m = primary(analyse(exp))
    champion, challenger = champion[: exp.total_n], challenger[: exp.total_n]
    ref = sps.ttest_rel(challenger, champion)
    assert close(m["p_value"], ref.pvalue) and close(m["statistic"], ref.statistic)
    assert close(m["effect_absolute"], float(np.mean(challenger - champion)))
    assert m["in_favour"] is True  # lower error is better and the challenger's is lower


def test_wilcoxon_with_zeros_and_ties_matches_scipy(make_experiment, upload, analyse):
    rng = np.random.default_rng(5)
    champion = np.round(rng.normal(5.0, 2.0, 220))
    challenger = np.round(champion + rng.normal(-0.4, 1.5, 220))
    d = challenger - champion
    assert np.any(d == 0)
    exp = make_experiment("wilcoxon_signed_rank")
    upload(exp, shadow_csv(champion, challenger))
    m = primary(analyse(exp))
    champion, challenger = champion[: exp.total_n], challenger[: exp.total_n]
    d = challenger - champion
    ref = sps.wilcoxon(challenger, champion, zero_method="wilcox", correction=False, method="asymptotic")
    assert close(m["p_value"], ref.pvalue)
    nz = d[d != 0]
    ranks = sps.rankdata(np.abs(nz))
    assert close(m["statistic"], float(ranks[nz > 0].sum()))  # W+, R's V


def test_mcnemar_matches_statsmodels(make_experiment, upload, analyse):
    rng = np.random.default_rng(6)
    champion = rng.binomial(1, 0.6, 400)
    challenger = np.where(rng.random(400) < 0.8, champion, rng.binomial(1, 0.75, 400))
    exp = make_experiment("mcnemar")
    upload(exp, shadow_csv(champion, challenger))
    m = primary(analyse(exp))
    champion, challenger = champion[: exp.total_n], challenger[: exp.total_n]
    table = np.array([
        [np.sum((champion == 1) & (challenger == 1)), np.sum((champion == 1) & (challenger == 0))],
        [np.sum((champion == 0) & (challenger == 1)), np.sum((champion == 0) & (challenger == 0))],
    ])
    ref = mcnemar(table, exact=False, correction=True)
    assert close(m["p_value"], ref.pvalue) and close(m["statistic"], ref.statistic)


def test_sample_ratio_mismatch_is_flagged(make_experiment, upload, analyse):
    rng = np.random.default_rng(7)
    exp = make_experiment("welch_t")
    upload(exp, ab_csv(rng.normal(0, 1, 1000), rng.normal(0, 1, 800)))
    dq = analyse(exp)["data_quality"]
    assert close(dq["srm_p_value"], sps.chisquare([1000, 800]).pvalue)
    assert dq["srm_detected"] is True
    assert any("Sample ratio mismatch" in w for w in dq["warnings"])


def test_no_verdict_before_the_horizon(api, make_experiment, upload, analyse):
    exp = make_experiment("welch_t")
    assert exp.total_n > 40
    upload(exp, ab_csv(np.arange(20.0), np.arange(20.0) + 5))
    result = analyse(exp)
    assert result["status"] == "interim"
    assert result["metrics"] == []
    assert result["progress"]["units"] == 40 and result["progress"]["reached"] is False
    assert "srm_p_value" in result["data_quality"]
    r = api("rita").post(f"/api/v1/experiments/{exp.pk}/decision/", {"outcome": "adopt_challenger", "rationale": "looks good"},
                         format="json")
    assert r.status_code == 409 and r.json()["code"] == "verdict_refused"


def test_an_early_stop_yields_no_verdict(api, make_experiment, upload, analyse):
    exp = make_experiment("welch_t")
    upload(exp, ab_csv(np.arange(20.0), np.arange(20.0) + 5))
    api("dana").post(f"/api/v1/experiments/{exp.pk}/stop/", {"reason": "peeked"}, format="json")
    result = analyse(exp)
    assert result["status"] == "interim" and result["results"]["stopped_early"] is True and result["metrics"] == []


def test_sequential_look_reports_only_when_the_boundary_is_crossed(make_experiment, upload, analyse):
    import math

    rng = np.random.default_rng(8)
    exp = make_experiment("welch_t", sequential="obf", looks=4)
    per_arm = math.ceil(exp.total_n / 8)  # a quarter of the planned units: the first look
    upload(exp, ab_csv(rng.normal(0, 1, per_arm), rng.normal(0.05, 1, per_arm)))
    result = analyse(exp)
    assert result["results"]["sequential"]["look"] == 1
    assert result["status"] == "interim" and result["metrics"] == []

    strong = make_experiment("welch_t", sequential="obf", looks=4, name="strong")
    upload(strong, ab_csv(rng.normal(0, 1, per_arm), rng.normal(3.0, 1, per_arm)))
    result = analyse(strong)
    assert result["status"] == "completed"
    m = primary(result)
    bound = result["results"]["sequential"]["nominal_p_threshold"]
    assert m["p_value"] < bound < 0.05 and m["significant"] is True
