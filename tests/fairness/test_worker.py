"""The bias report is computed by a real Celery worker process, on the test run's Redis and
database, reading the stored evaluation set."""

import pytest
from fairlearn.metrics import equalized_odds_difference

from fairness.models import BiasReport

from .conftest import csv_upload, evaluation_frame

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_computes_an_uploaded_report(celery_worker, governed, api, wait_for):
    df = evaluation_frame(unfair=True)
    response = api("dana").post("/api/v1/models/credit-gbm/versions/1/bias-reports/", {"file": csv_upload(df)},
                                format="multipart")
    assert response.status_code == 202
    pk = response.json()["id"]
    wait_for(lambda: BiasReport.objects.filter(pk=pk, status="completed").exists(), timeout=60)
    body = api("audrey").get(f"/api/v1/bias-reports/{pk}/").json()
    assert body["passed"] is False
    expected = equalized_odds_difference(df["label"], df["prediction"], sensitive_features=df["gender"])
    assert body["results"]["attributes"]["gender"]["disparities"]["equalized_odds_difference"]["value"] == pytest.approx(expected)
