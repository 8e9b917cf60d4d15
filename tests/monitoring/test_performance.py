"""monitoring/performance.py against independent formulas and a simulation with known truth."""

import numpy as np
import pytest

from monitoring import performance


def test_classification_metrics_equal_hand_counts():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.4, 0.7])
    m = performance.classification_metrics(y, scores=s)
    # predicted (≥ 0.5): 1 1 0 1 0 0 0 1 → TP 3, FP 1, FN 1, TN 3
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(3 / 4) and m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(3 / 4)
    # AUC = share of (positive, negative) pairs ranked correctly.
    pairs = [(p, n) for p in s[y == 1] for n in s[y == 0]]
    assert m["roc_auc"] == pytest.approx(sum(p > n for p, n in pairs) / len(pairs))
    assert m["log_loss"] == pytest.approx(-np.mean(y * np.log(s) + (1 - y) * np.log(1 - s)))


def test_regression_metrics():
    y, f = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 5.0])
    m = performance.regression_metrics(y, f)
    assert m["mae"] == pytest.approx(2.5 / 4)
    assert m["rmse"] == pytest.approx(np.sqrt(2.25 / 4))
    assert m["r2"] == pytest.approx(1 - 2.25 / 5.0)


def test_cbpe_estimate_matches_realized_on_calibrated_simulation():
    """Labels drawn from the scores themselves (perfect calibration): the estimate must match the
    realized metrics up to sampling error; with scores pushed away from the truth, it must not."""
    rng = np.random.default_rng(7)
    scores = rng.beta(2, 3, size=200_000)
    labels = (rng.random(scores.size) < scores).astype(int)
    estimate = performance.cbpe_estimate(scores)
    realized = performance.classification_metrics(labels, scores=scores)
    for metric in ("accuracy", "precision", "recall", "f1"):
        assert estimate[metric] == pytest.approx(realized[metric], abs=0.006), metric
    overconfident = np.clip(scores * 1.6, 0, 1)  # uncalibrated: the estimate goes wrong
    assert abs(performance.cbpe_estimate(overconfident)["accuracy"]
               - performance.classification_metrics(labels, scores=overconfident)["accuracy"]) > 0.05


def test_degradation_direction():
    assert performance.degradation("roc_auc", 0.7, 0.8) == pytest.approx(0.1)
    assert performance.degradation("rmse", 1.2, 1.0) == pytest.approx(0.2)
