"""Data-quality block, database-only aggregation, and the beat entry."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from abtests.analyses import analysis_run
from abtests.models import Analysis

from .conftest import csv_body, shadow_csv

pytestmark = pytest.mark.django_db


def test_duplicates_missing_values_and_empty_arms_are_reported(make_experiment, upload, analyse):
    exp = make_experiment("welch_t")
    header = ["unit_id", "arm", "value", "event_id"]
    upload(exp, csv_body(header, [("a", "control", "1", "e1"), ("b", "control", "", "e2"), ("c", "control", "3", "e3")]))
    upload(exp, csv_body(header, [("a", "control", "1", "e1"), ("d", "control", "2", "e4")]))
    dq = analyse(exp)["data_quality"]
    assert dq["duplicate_events"] == 1
    assert dq["missing_values"] == 1
    assert dq["arms_without_data"] == ["treatment"]
    assert dq["observed"] == {"control": 4, "treatment": 0}
    assert len(dq["warnings"]) >= 3


def test_shadow_missing_pairs(make_experiment, upload, analyse):
    exp = make_experiment("paired_t")
    upload(exp, csv_body(["request_id", "champion_value", "challenger_value"], [("r1", "1.0", ""), ("r2", "0.5", "0.7")]))
    dq = analyse(exp)["data_quality"]
    assert dq["missing_values"] == 1 and dq["srm_p_value"] is None


def test_the_analysis_reads_only_aggregates(make_experiment, upload, analyse):
    import numpy as np

    rng = np.random.default_rng(9)
    exp = make_experiment("wilcoxon_signed_rank")
    upload(exp, shadow_csv(np.round(rng.normal(5, 2, 150)), np.round(rng.normal(5, 2, 150))))
    analysis = Analysis.objects.create(experiment=exp)
    with CaptureQueriesContext(connection) as ctx:
        analysis_run(analysis_id=analysis.pk)
    on_events = [q["sql"] for q in ctx.captured_queries if "abtests_event" in q["sql"] and "abtests_eventbatch" not in q["sql"]]
    assert on_events
    for sql in on_events:  # every read of the events table aggregates it, or finds the horizon's one row
        assert "COUNT(" in sql.upper() or "SUM(" in sql.upper() or "LIMIT 1" in sql.upper(), sql


def test_analysis_of_another_experiment_is_404(api, make_experiment, analyse, upload):
    one, other = make_experiment("welch_t"), make_experiment("welch_t", name="other")
    analysis_id = analyse(one)["id"]
    assert api("dana").get(f"/api/v1/experiments/{other.pk}/analyses/{analysis_id}/").status_code == 404


def test_the_beat_entry_queues_analyses_for_experiments_at_their_horizon(make_experiment, upload, django_capture_on_commit_callbacks):
    """The scheduled task, looked up by the name beat sends, queues one analysis for an experiment
    at its horizon and none for one before it (nor twice)."""
    from portal.celery import app

    from .conftest import ab_csv

    entry = settings.CELERY_BEAT_SCHEDULE["abtests-analyses-due"]
    task = app.tasks[entry["task"]]
    reached, early = make_experiment("welch_t"), make_experiment("welch_t", name="early")
    upload(reached, ab_csv([float(i % 5) for i in range(reached.n_per_arm)], [float(i % 7) for i in range(reached.n_per_arm)]))
    upload(early, ab_csv([1.0, 2.0], [2.0, 3.0]))
    with django_capture_on_commit_callbacks(execute=False):
        assert task.apply().get() == 1
        assert task.apply().get() == 0
    assert list(Analysis.objects.values_list("experiment_id", "trigger")) == [(reached.pk, "beat")]
