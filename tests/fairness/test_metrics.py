"""fairness.metrics against Fairlearn (MetricFrame and its disparity functions) and statsmodels,
on fixed seeded data. Pure: no database."""

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score
from statsmodels.stats.multitest import multipletests

from fairness.metrics import (
    Aggregator,
    analyse,
    benjamini_hochberg,
    bootstrap_counts,
    intersection_name,
)

THRESHOLDS = {
    "max_demographic_parity_difference": 0.1, "min_demographic_parity_ratio": 0.8,
    "max_equal_opportunity_difference": 0.1, "max_equalized_odds_difference": 0.1,
    "min_group_size": 30, "alpha": 0.05, "bootstrap_reps": 400, "confidence": 0.95,
}


def make_data(seed=7, n=6000):
    rng = np.random.default_rng(seed)
    gender = rng.choice(["f", "m", "x"], size=n, p=[0.45, 0.5, 0.05])
    region = rng.choice(["north", "south"], size=n, p=[0.6, 0.4])
    base = {"f": 0.3, "m": 0.45, "x": 0.4}
    label = (rng.random(n) < np.vectorize(base.get)(gender)).astype(int)
    score = np.clip(0.25 + 0.5 * label + rng.normal(0, 0.2, n) + (region == "south") * 0.05, 0, 1)
    pred = (score > 0.5).astype(int)
    return pd.DataFrame({"label": label, "prediction": pred, "score": score, "gender": gender, "region": region})


def aggregate(df, attributes, intersections=(), chunk=None):
    agg = Aggregator(attributes=list(attributes), intersections=list(intersections))
    chunk = chunk or len(df)
    for start in range(0, len(df), chunk):
        part = df.iloc[start:start + chunk]
        groups = {}
        for a in attributes:
            names, codes = np.unique(part[a].to_numpy(), return_inverse=True)
            groups[a] = (codes, list(names))
        agg.add(label=part["label"].to_numpy(), prediction=part["prediction"].to_numpy(),
                score=part["score"].to_numpy(), groups=groups)
    return agg


def by_group(report, key):
    return {g["group"]: g for g in report["attributes"][key]["groups"]}


def test_group_metrics_match_fairlearn_metricframe():
    df = make_data()
    report = analyse(aggregate(df, ["gender"], chunk=1000), thresholds=THRESHOLDS, seed=1)
    frame = MetricFrame(
        metrics={"selection_rate": selection_rate, "accuracy": accuracy_score, "true_positive_rate": true_positive_rate,
                 "false_positive_rate": false_positive_rate, "precision": precision_score},
        y_true=df["label"], y_pred=df["prediction"], sensitive_features=df["gender"],
    )
    ours = by_group(report, "gender")
    for group, row in frame.by_group.iterrows():
        for metric, expected in row.items():
            assert ours[group][metric]["value"] == pytest.approx(expected, abs=1e-12), (group, metric)
        assert ours[group]["size"] == int((df["gender"] == group).sum())


def test_calibration_is_mean_score_against_observed_rate():
    df = make_data()
    report = analyse(aggregate(df, ["region"]), thresholds=THRESHOLDS, seed=1)
    for group, g in by_group(report, "region").items():
        part = df[df["region"] == group]
        assert g["mean_score"] == pytest.approx(part["score"].mean())
        assert g["observed_rate"]["value"] == pytest.approx(part["label"].mean())
        assert g["calibration_gap"] == pytest.approx(part["score"].mean() - part["label"].mean())


@pytest.mark.parametrize("metric, reference", [
    ("demographic_parity_difference", demographic_parity_difference),
    ("demographic_parity_ratio", demographic_parity_ratio),
    ("equal_opportunity_difference", equal_opportunity_difference),
    ("equalized_odds_difference", equalized_odds_difference),
])
def test_disparities_match_fairlearn(metric, reference):
    df = make_data()
    report = analyse(aggregate(df, ["gender", "region"]), thresholds=THRESHOLDS, seed=1)
    for attribute in ("gender", "region"):
        expected = reference(df["label"], df["prediction"], sensitive_features=df[attribute])
        assert report["attributes"][attribute]["disparities"][metric]["value"] == pytest.approx(expected, abs=1e-12)


def test_intersections_match_fairlearn_on_two_sensitive_features():
    df = make_data()
    key = intersection_name("gender", "region")
    report = analyse(aggregate(df, ["gender", "region"], [("gender", "region")], chunk=777), thresholds=THRESHOLDS, seed=1)
    frame = MetricFrame(metrics=selection_rate, y_true=df["label"], y_pred=df["prediction"],
                        sensitive_features=df[["gender", "region"]])
    ours = by_group(report, key)
    for (gender, region), expected in frame.by_group.items():
        assert ours[f"{gender} × {region}"]["selection_rate"]["value"] == pytest.approx(expected)
    small = [g for g, v in ours.items() if v["size"] < THRESHOLDS["min_group_size"]]
    judged = df[~(df["gender"] + " × " + df["region"]).isin(small)]
    expected = equalized_odds_difference(judged["label"], judged["prediction"],
                                         sensitive_features=judged["gender"] + " × " + judged["region"])
    assert report["attributes"][key]["disparities"]["equalized_odds_difference"]["value"] == pytest.approx(expected)


def test_small_group_is_reported_but_not_judged():
    df = make_data()
    thresholds = {**THRESHOLDS, "min_group_size": 400}  # "x" has about 300 rows
    report = analyse(aggregate(df, ["gender"]), thresholds=thresholds, seed=1)
    groups = by_group(report, "gender")
    assert groups["x"]["size"] < 400 and groups["x"]["judged"] is False
    assert groups["f"]["judged"] and groups["m"]["judged"]
    kept = df[df["gender"] != "x"]
    expected = demographic_parity_difference(kept["label"], kept["prediction"], sensitive_features=kept["gender"])
    assert report["attributes"]["gender"]["disparities"]["demographic_parity_difference"]["value"] == pytest.approx(expected)


def test_fewer_than_two_judged_groups_leaves_the_attribute_not_judged():
    df = make_data()
    report = analyse(aggregate(df, ["gender"]), thresholds={**THRESHOLDS, "min_group_size": 2900}, seed=1)
    statuses = {j["status"] for j in report["judgements"] if j["attribute"] == "gender"}
    assert statuses == {"not judged"}


def test_benjamini_hochberg_matches_statsmodels():
    p = np.random.default_rng(3).uniform(0, 0.2, 25)
    _, expected, _, _ = multipletests(p, method="fdr_bh")
    assert np.allclose(benjamini_hochberg(p), expected)


def test_report_adjusts_its_judgements_together_with_bh():
    df = make_data()
    report = analyse(aggregate(df, ["gender", "region"], [("gender", "region")]), thresholds=THRESHOLDS, seed=5)
    judged = [j for j in report["judgements"] if j["status"] != "not judged"]
    _, expected, _, _ = multipletests([j["p_value"] for j in judged], method="fdr_bh")
    assert [j["p_adjusted"] for j in judged] == pytest.approx(list(expected))


def test_unfair_predictions_fail_and_name_the_groups():
    df = make_data()
    # The model selects men far more often than women: demographic parity fails.
    df.loc[df["gender"] == "m", "prediction"] = 1
    report = analyse(aggregate(df, ["gender"]), thresholds=THRESHOLDS, seed=1)
    failed = {j["metric"]: j for j in report["judgements"] if j["status"] == "fail"}
    assert "demographic_parity_difference" in failed and report["passed"] is False
    assert failed["demographic_parity_difference"]["groups"]["highest"] == "m"
    assert failed["demographic_parity_difference"]["p_adjusted"] <= 0.05


def test_fair_predictions_pass():
    rng = np.random.default_rng(11)
    n = 8000
    df = pd.DataFrame({"gender": rng.choice(["f", "m"], n), "label": rng.integers(0, 2, n)})
    df["prediction"] = np.where(rng.random(n) < 0.9, df["label"], 1 - df["label"])
    df["score"] = df["prediction"] * 0.8 + 0.1
    report = analyse(aggregate(df, ["gender"]), thresholds=THRESHOLDS, seed=1)
    assert report["passed"] is True
    assert {j["status"] for j in report["judgements"]} == {"pass"}


def test_bootstrap_is_reproducible_with_its_seed():
    df = make_data()
    agg = aggregate(df, ["gender"])
    a, b = analyse(agg, thresholds=THRESHOLDS, seed=42), analyse(agg, thresholds=THRESHOLDS, seed=42)
    c = analyse(agg, thresholds=THRESHOLDS, seed=43)
    key = ("attributes", "gender", "disparities", "equalized_odds_difference")
    pick = lambda r: r[key[0]][key[1]][key[2]][key[3]]  # noqa: E731
    assert pick(a) == pick(b)
    assert pick(a)["low"] != pick(c)["low"]


def test_bootstrapped_counts_keep_group_sizes():
    counts = np.array([[50, 10, 5, 35], [3, 0, 0, 7]], dtype=float)
    boot = bootstrap_counts(counts, reps=100, rng=np.random.default_rng(0))
    assert boot.shape == (100, 2, 4)
    assert np.all(boot.sum(axis=2) == counts.sum(axis=1))
    assert np.all(boot[:, 1, 1] == 0)  # an empty cell stays empty


def test_bootstrap_interval_covers_the_true_disparity_about_95_percent():
    """200 simulated evaluation sets from known group rates; the 95 % interval of the demographic
    parity difference and of a group's selection rate should contain the truth about 95 % of the time."""
    rng = np.random.default_rng(2024)
    # True cell probabilities (tn, fp, fn, tp) per group.
    truth = np.array([[0.45, 0.15, 0.10, 0.30], [0.55, 0.10, 0.15, 0.20]])
    true_selection = truth[:, 1] + truth[:, 3]
    true_dp = true_selection.max() - true_selection.min()
    sizes = np.array([800, 600])
    thresholds = {**THRESHOLDS, "bootstrap_reps": 300}
    hits_dp = hits_rate = 0
    reps = 200
    for i in range(reps):
        agg = Aggregator(attributes=["g"])
        for g, n in enumerate(sizes):
            cells = rng.choice(4, size=n, p=truth[g])
            agg.add(label=cells // 2, prediction=cells % 2, groups={"g": (np.zeros(n, dtype=int), [f"g{g}"])})
        report = analyse(agg, thresholds=thresholds, seed=i)
        dp = report["attributes"]["g"]["disparities"]["demographic_parity_difference"]
        hits_dp += dp["low"] <= true_dp <= dp["high"]
        rate = by_group(report, "g")["g0"]["selection_rate"]
        hits_rate += rate["low"] <= true_selection[0] <= rate["high"]
    assert 0.89 <= hits_dp / reps <= 0.99
    assert 0.89 <= hits_rate / reps <= 0.99
