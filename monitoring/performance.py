"""Model performance from labels, and estimated performance before labels (CBPE). No Django.

Realized metrics (numpy/scipy):

* classifiers (binary, positive class 1): accuracy, precision, recall, F1 from the predicted
  class; ROC AUC from the scores as the Mann–Whitney U of positives against negatives divided by
  n₁·n₀ (scipy `mannwhitneyu`, ties count one half); log loss, scores clipped to [1e-15, 1 − 1e-15].
* regressors: MAE, RMSE, R² = 1 − SS_res / SS_tot.

Confidence-based performance estimation (NannyML's CBPE, binary): when the score p is a calibrated
probability of class 1, a row predicted positive (p ≥ threshold) is a true positive with
probability p and a false positive with probability 1 − p; a row predicted negative is a false
negative with probability p and a true negative with 1 − p. Summing gives the expected confusion
matrix, and from it expected accuracy, precision, recall and F1. The sums add up across batches.
The estimate is only as good as the calibration: with uncalibrated scores (e.g. raw margins, or
a model whose calibration drifted — concept drift) it is wrong without warning.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "r2")
# Metrics where lower is better (a degradation is a rise, not a drop).
LOWER_IS_BETTER = {"log_loss", "mae", "rmse"}


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def confusion_metrics(tp: float, fp: float, fn: float, tn: float) -> dict:
    n = tp + fp + fn + tn
    return {
        "accuracy": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def classification_metrics(y_true, y_pred=None, scores=None, threshold: float = 0.5) -> dict:
    y = np.asarray(y_true, dtype=int)
    if y_pred is None:
        if scores is None:
            raise ValueError("need predictions or scores")
        y_pred = (np.asarray(scores, dtype=float) >= threshold).astype(int)
    pred = np.asarray(y_pred, dtype=int)
    tp = float(np.sum((pred == 1) & (y == 1)))
    fp = float(np.sum((pred == 1) & (y == 0)))
    fn = float(np.sum((pred == 0) & (y == 1)))
    tn = float(np.sum((pred == 0) & (y == 0)))
    out = confusion_metrics(tp, fp, fn, tn)
    out["roc_auc"] = out["log_loss"] = None
    if scores is not None:
        s = np.asarray(scores, dtype=float)
        pos, neg = s[y == 1], s[y == 0]
        if pos.size and neg.size:
            u = stats.mannwhitneyu(pos, neg, alternative="two-sided").statistic
            out["roc_auc"] = float(u / (pos.size * neg.size))
        p = np.clip(s, 1e-15, 1 - 1e-15)
        out["log_loss"] = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    out["n"] = int(y.size)
    return out


def regression_metrics(y_true, y_pred) -> dict:
    y = np.asarray(y_true, dtype=float)
    f = np.asarray(y_pred, dtype=float)
    err = y - f
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "r2": 1 - float(np.sum(err**2)) / ss_tot if ss_tot else None,
        "n": int(y.size),
    }


def cbpe_sums(scores, threshold: float = 0.5) -> dict:
    """Expected confusion-matrix cells from calibrated scores (additive across batches)."""
    p = np.asarray(scores, dtype=float)
    predicted = p >= threshold
    return {
        "tp": float(p[predicted].sum()),
        "fp": float((1 - p[predicted]).sum()),
        "fn": float(p[~predicted].sum()),
        "tn": float((1 - p[~predicted]).sum()),
    }


def cbpe_estimate(scores, threshold: float = 0.5) -> dict:
    """Expected accuracy, precision, recall and F1 from calibrated scores alone."""
    sums = cbpe_sums(scores, threshold)
    out = confusion_metrics(sums["tp"], sums["fp"], sums["fn"], sums["tn"])
    out["n"] = int(np.asarray(scores).size)
    return out


def degradation(metric: str, value: float | None, baseline: float | None) -> float | None:
    """How much worse `value` is than the validation `baseline` (positive = worse)."""
    if value is None or baseline is None:
        return None
    return (value - baseline) if metric in LOWER_IS_BETTER else (baseline - value)
