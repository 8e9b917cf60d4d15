"""An analysis that cannot be computed is recorded as failed, with the time and a message for
people — never left `finished_at: null` with a raw database message."""

import numpy as np
import pytest
from django.db import DatabaseError, OperationalError, ProgrammingError

from abtests import aggregates
from abtests.analyses import analysis_request
from abtests.models import Analysis
from abtests.tasks import analysis_run_task
from core.models import BackgroundJob

from .conftest import ab_csv

pytestmark = pytest.mark.django_db


def _failing_analysis(make_experiment, upload, cast, monkeypatch, capture, error):
    rng = np.random.default_rng(3)
    exp = make_experiment("welch_t")
    upload(exp, ab_csv(rng.normal(0, 1, 80), rng.normal(0, 1, 80)))
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise error

    monkeypatch.setattr(aggregates, "arm_moments", broken)
    with capture(execute=False):
        analysis = analysis_request(actor=cast["dana"], experiment=exp)
    result = analysis_run_task.apply(args=[analysis.job_id])  # eager, retries included
    assert result.failed()
    analysis.refresh_from_db()
    return analysis, BackgroundJob.objects.get(pk=analysis.job_id), len(calls)


def test_a_database_away_for_a_moment_is_retried_then_fails_the_analysis_with_its_time_and_a_plain_message(
    make_experiment, upload, cast, monkeypatch, django_capture_on_commit_callbacks
):
    raw = "server closed the connection unexpectedly"
    analysis, job, calls = _failing_analysis(make_experiment, upload, cast, monkeypatch,
                                             django_capture_on_commit_callbacks, OperationalError(raw))
    assert calls == 4 and job.attempts == 4  # the first run and three retries, each claiming the job
    assert analysis.status == Analysis.Status.FAILED
    assert analysis.finished_at is not None
    message = analysis.results["error"]
    assert "could not be computed" in message and "after 4 attempt(s)" in message and raw not in message
    assert job.status == BackgroundJob.Status.FAILED and job.message == message


def test_an_error_that_a_retry_cannot_cure_fails_the_analysis_at_once(
    make_experiment, upload, cast, monkeypatch, django_capture_on_commit_callbacks
):
    raw = 'unrecognized token: ":"'
    analysis, job, calls = _failing_analysis(make_experiment, upload, cast, monkeypatch,
                                             django_capture_on_commit_callbacks, ProgrammingError(raw))
    assert calls == 1 and job.attempts == 1
    assert analysis.status == Analysis.Status.FAILED and analysis.finished_at is not None
    assert "after 1 attempt(s)" in analysis.results["error"] and raw not in analysis.results["error"]
    assert job.status == BackgroundJob.Status.FAILED and raw not in job.message


def test_data_that_cannot_support_the_test_fails_with_the_reason(make_experiment, upload, analyse):
    exp = make_experiment("welch_t")
    upload(exp, ab_csv([1.0] * 80, [1.0] * 80))  # zero variance in both arms
    result = analyse(exp)
    assert result["status"] == "failed" and result["finished_at"] is not None
    assert result["results"]["error"].startswith("The data cannot support the test:")


def test_the_portal_shows_the_plain_message_and_the_time(make_experiment, upload, cast, client, monkeypatch,
                                                         django_capture_on_commit_callbacks):
    from django.urls import reverse
    from django.utils import timezone

    exp = make_experiment("welch_t")
    upload(exp, ab_csv([1.0, 2.0], [2.0, 3.0]))
    monkeypatch.setattr(aggregates, "arm_moments", lambda *a, **k: (_ for _ in ()).throw(DatabaseError("near \"::\"")))
    with django_capture_on_commit_callbacks(execute=False):
        analysis = analysis_request(actor=cast["dana"], experiment=exp)
    analysis_run_task.apply(args=[analysis.job_id])
    client.force_login(cast["dana"])
    html = client.get(reverse("portal:experiment-analysis", args=[exp.pk, analysis.pk])).content.decode()
    assert "could not be computed" in html and 'near "::"' not in html and "near &quot;::&quot;" not in html
    analysis.refresh_from_db()
    assert timezone.localtime(analysis.finished_at).strftime("%Y-%m-%d %H:%M:%S") in html
