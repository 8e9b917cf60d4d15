"""The experiment tasks, delivered twice (Celery may deliver a message more than once): one
result, one audit event."""

import pytest

from abtests.analyses import analysis_request
from abtests.models import Analysis
from abtests.tasks import analyses_due_task, analysis_run_task
from audit.models import AuditEvent
from core.models import BackgroundJob
from core.services import job_create

from .conftest import ab_csv

pytestmark = pytest.mark.django_db


def _at_horizon(make_experiment, upload):
    exp = make_experiment("welch_t")
    upload(exp, ab_csv([float(i % 5) for i in range(exp.n_per_arm)], [float(i % 7) for i in range(exp.n_per_arm)]))
    return exp


def test_an_analysis_delivered_twice_is_computed_and_audited_once(make_experiment, upload, cast,
                                                                 django_capture_on_commit_callbacks):
    exp = _at_horizon(make_experiment, upload)
    with django_capture_on_commit_callbacks(execute=False):
        analysis = analysis_request(actor=cast["dana"], experiment=exp)
    assert analysis_run_task(analysis.job_id) == "succeeded"
    assert analysis_run_task(analysis.job_id) == "skipped: job already claimed or finished"
    analysis.refresh_from_db()
    assert analysis.status == Analysis.Status.COMPLETED
    job = BackgroundJob.objects.get(pk=analysis.job_id)
    assert (job.status, job.attempts, job.result) == ("succeeded", 1, {"analysis": analysis.pk, "status": "completed"})
    assert AuditEvent.objects.filter(action="experiment.analysis", object_id=str(exp.pk)).count() == 1


def test_the_beat_message_delivered_twice_queues_one_analysis(make_experiment, upload,
                                                            django_capture_on_commit_callbacks):
    exp = _at_horizon(make_experiment, upload)
    job = job_create(kind="abtests_analyses_due")  # the job of one beat message
    with django_capture_on_commit_callbacks(execute=False):
        assert analyses_due_task(job.pk) == 1
        assert analyses_due_task(job.pk) == "skipped"
    (analysis,) = Analysis.objects.filter(experiment=exp)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result == {"analyses": [analysis.pk]}
    assert AuditEvent.objects.filter(action="experiment.analysis_request", object_id=str(exp.pk)).count() == 1
