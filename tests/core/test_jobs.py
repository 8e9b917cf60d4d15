"""Lost and abandoned background work is recovered by `jobs_redispatch`, on a real worker."""

import pytest
from django.utils import timezone

from core.models import BackgroundJob
from core.services import job_claim, job_create, jobs_redispatch
from registry import services
from registry.tasks import artifact_verify

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def version(cast):
    dana = cast["dana"]
    uc = services.use_case_create(actor=dana, name="Jobs")
    model = services.model_create(actor=dana, name="jobs-model", use_case=uc)
    return services.model_version_register(actor=dana, model=model, artifact_uri="s3://x", sha256="a" * 64)


def _lost_job(version):
    """A job whose message never reached the broker (created, never sent)."""
    job = job_create(kind="artifact_verify", obj=version)
    BackgroundJob.objects.filter(pk=job.pk).update(task=artifact_verify.name)
    return job


def test_pending_job_whose_message_was_lost_is_sent_again(celery_worker, version, wait_for):
    job = _lost_job(version)
    assert jobs_redispatch(pending_grace_seconds=3600, running_limit_seconds=3600, max_attempts=3) == {"sent": 0, "failed": 0}
    BackgroundJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timezone.timedelta(minutes=10))
    assert jobs_redispatch(pending_grace_seconds=300, running_limit_seconds=3600, max_attempts=3)["sent"] == 1
    done = wait_for(lambda: BackgroundJob.objects.filter(pk=job.pk, status="succeeded").first())
    assert done.attempts == 1


def test_job_abandoned_by_a_dead_worker_runs_again(celery_worker, version, wait_for):
    job = _lost_job(version)
    assert job_claim(job_id=job.pk)  # a worker claimed it, then died
    BackgroundJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timezone.timedelta(hours=2))
    result = jobs_redispatch(pending_grace_seconds=0, running_limit_seconds=1800, max_attempts=3)
    assert result == {"sent": 1, "failed": 0}
    done = wait_for(lambda: BackgroundJob.objects.filter(pk=job.pk, status="succeeded").first())
    assert done.attempts == 2


def test_job_that_keeps_dying_is_failed_after_max_attempts(version):
    job = _lost_job(version)
    for _ in range(3):
        BackgroundJob.objects.filter(pk=job.pk).update(status="pending")
        assert job_claim(job_id=job.pk)
    BackgroundJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timezone.timedelta(hours=2))
    assert jobs_redispatch(pending_grace_seconds=0, running_limit_seconds=1800, max_attempts=3) == {"sent": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "failed" and "3 attempts" in job.message


def test_enqueue_records_the_task_name(cast, version):
    from django.core.files.uploadedfile import SimpleUploadedFile

    v = services.model_version_register(
        actor=cast["dana"], model=version.model, artifact=SimpleUploadedFile("m.bin", b"x")
    )
    job = BackgroundJob.objects.get(object_id=str(v.pk))
    assert job.task == "registry.tasks.artifact_verify"
