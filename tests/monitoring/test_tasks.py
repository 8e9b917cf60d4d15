"""The monitoring tasks, delivered twice: one result, one audit event; a part that cannot be
computed fails its check once."""

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.models import BackgroundJob
from core.services import job_create
from monitoring import tasks
from monitoring.models import CheckPart, DriftCheck, Monitor
from monitoring.services import check_request
from registry.models import ModelVersion

from .conftest import W1, base_url, frame, to_csv

pytestmark = pytest.mark.django_db


def test_the_schedule_beat_delivered_twice_queues_one_check(monitored, api, django_capture_on_commit_callbacks):
    assert api("dana").patch(base_url(monitored), {"schedule_minutes": 60}, format="json").status_code == 200
    ModelVersion.objects.filter(pk=monitored.pk).update(stage="production")
    Monitor.objects.filter(version=monitored).update(next_run_at=timezone.now() - timezone.timedelta(minutes=1))
    job = job_create(kind="monitoring_checks_due")
    with django_capture_on_commit_callbacks(execute=False):
        assert tasks.checks_due_task(job.pk) == 1
        assert tasks.checks_due_task(job.pk) == "skipped"
        assert tasks.checks_due_task() == 0  # the next beat: the schedule moved forward
    (check,) = DriftCheck.objects.filter(version=monitored)
    assert check.trigger == "schedule" and BackgroundJob.objects.get(pk=job.pk).result == {"checks": [check.pk]}
    assert AuditEvent.objects.filter(action="monitoring.check_request", object_id=str(check.pk)).count() == 1


def test_a_part_that_cannot_be_computed_fails_its_check_at_once(monitored, upload, cast, monkeypatch,
                                                              django_capture_on_commit_callbacks):
    upload("dana", monitored, "batches", "b.csv", to_csv(frame(300, seed=40)), **W1)
    with django_capture_on_commit_callbacks(execute=False):
        check = check_request(actor=cast["dana"], version=monitored)
    part = CheckPart.objects.get(check_run=check)
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise KeyError("x0")  # a summary without the feature: no retry cures that

    monkeypatch.setattr(tasks, "check_part_run", broken)
    assert tasks.check_part_task.apply(args=[part.job_id]).failed()  # eager, retries included
    assert tasks.check_part_task(part.job_id) == "skipped: job already claimed or finished"
    check.refresh_from_db()
    job = BackgroundJob.objects.get(pk=part.job_id)
    assert len(calls) == 1 and job.attempts == 1
    assert check.status == "failed" and "x0" in check.error
    assert job.status == "failed" and job.message == "Check failed: 'x0'"
    assert not AuditEvent.objects.filter(action="monitoring.check_complete", object_id=str(check.pk)).exists()
