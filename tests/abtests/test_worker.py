"""The analysis runs on a real Celery worker process, on the test run's Redis and database."""

import numpy as np
import pytest
from scipy import stats as sps

from abtests.analyses import analyses_due
from abtests.models import Analysis

from .conftest import ab_csv

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]



def test_worker_runs_a_requested_analysis_and_beat_queues_none_twice(celery_worker, api, make_experiment, upload, wait_for):
    rng = np.random.default_rng(21)
    a, b = rng.normal(5.0, 1.0, 200), rng.normal(5.3, 1.0, 200)
    exp = make_experiment("welch_t")
    assert upload(exp, ab_csv(a, b)).status_code == 201

    r = api("dana").post(f"/api/v1/experiments/{exp.pk}/analyses/")
    assert r.status_code == 202
    analysis_id = r.json()["id"]
    wait_for(lambda: Analysis.objects.filter(pk=analysis_id, status="completed").exists(), timeout=60)
    body = api("dana").get(f"/api/v1/experiments/{exp.pk}/analyses/{analysis_id}/").json()
    n = exp.n_per_arm  # the verdict reads the first planned units of each arm
    assert body["metrics"][0]["p_value"] == pytest.approx(sps.ttest_ind(b[:n], a[:n], equal_var=False).pvalue, rel=1e-9)
    # beat: a completed analysis exists, so nothing is queued, however often it runs
    assert analyses_due() == [] and analyses_due() == []


def test_beat_queues_one_analysis_for_an_experiment_at_its_horizon(celery_worker, make_experiment, upload, wait_for):
    rng = np.random.default_rng(22)
    exp = make_experiment("welch_t")
    upload(exp, ab_csv(rng.normal(0, 1, 150), rng.normal(0, 1, 150)))
    queued = analyses_due()
    assert len(queued) == 1 and analyses_due() == []
    wait_for(lambda: Analysis.objects.filter(pk=queued[0].pk, status="completed").exists(), timeout=60)
    assert Analysis.objects.filter(experiment=exp).count() == 1
