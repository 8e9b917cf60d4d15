"""Fairness fixtures: a tier-1 use case whose policy asks for a bias report at QA, evaluation
sets as CSV bytes, and a helper that runs the queued report like the worker would."""

import io

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fairness import services as fairness
from fairness.models import BiasReport
from fairness.tasks import bias_report_compute_task
from governance.classification import classification_submit
from governance.policy import policy_update
from governance.selectors import policy_current

LOW = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}
BIAS_PARAMS = {"subpopulations": ["gender"], "max_demographic_parity_difference": 0.1,
               "max_equal_opportunity_difference": 0.1, "max_equalized_odds_difference": 0.1,
               "min_group_size": 50, "bootstrap_reps": 300}


def evaluation_frame(*, unfair=False, n=3000, seed=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"gender": rng.choice(["f", "m"], n), "age_band": rng.choice(["<30", "30-60", ">60"], n)})
    df["label"] = rng.integers(0, 2, n)
    df["prediction"] = np.where(rng.random(n) < 0.9, df["label"], 1 - df["label"])
    if unfair:
        df.loc[(df["gender"] == "f") & (rng.random(n) < 0.6), "prediction"] = 0
    df["score"] = np.round(np.clip(df["prediction"] * 0.7 + rng.normal(0.15, 0.05, n), 0, 1), 4)
    return df


def csv_upload(df, name="eval.csv"):
    return SimpleUploadedFile(name, df.to_csv(index=False).encode(), content_type="text/csv")


def parquet_upload(df, name="eval.parquet"):
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return SimpleUploadedFile(name, buf.getvalue(), content_type="application/octet-stream")


@pytest.fixture
def governed(inventory, cast):
    """dana's use case, tier 1 (rita), naming gender; the policy asks for a bias report at QA."""
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=LOW)
    data = policy_current().data
    data["tiers"]["1"]["bias_harm"] = [{"text": "Bias report by gender", "gate": "bias_report",
                                        "params": dict(BIAS_PARAMS), "stages": ["qa"]}]
    policy_update(actor=cast["rita"], data=data)
    fairness.sensitive_attributes_set(actor=cast["rita"], use_case=inventory["use_case"], attributes=["gender"])
    return inventory


@pytest.fixture
def compute(django_capture_on_commit_callbacks):
    """Ask for a report as `actor` and run its job like the worker; returns the report."""

    def run(*, actor, version, upload=None, evaluation_set=None):
        with django_capture_on_commit_callbacks(execute=False):
            report = fairness.bias_report_request(actor=actor, version=version, upload=upload, evaluation_set=evaluation_set)
        bias_report_compute_task(report.job_id)
        return BiasReport.objects.get(pk=report.pk)

    return run
