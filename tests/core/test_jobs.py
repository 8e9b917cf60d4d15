"""Background jobs: claimed once, kept alive by a heartbeat, recovered when their worker dies or
their message is lost, failed when they keep dying — with real worker processes."""

import os
import signal
import time

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.jobs import heartbeat
from core.models import BackgroundJob
from core.services import job_claim, job_create, job_finish, jobs_redispatch, mail_enqueue
from registry import services
from registry.tasks import artifact_verify

from ..conftest import start_worker, stop_worker

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def version(cast):
    dana = cast["dana"]
    uc = services.use_case_create(actor=dana, name="Jobs")
    model = services.model_create(actor=dana, name="jobs-model", use_case=uc)
    return services.model_version_register(actor=dana, model=model, artifact_uri="s3://x", sha256="a" * 64)


def _lost_job(version, task=artifact_verify):
    """A job for `task` whose message never reached the broker (created, never sent)."""
    job = job_create(kind="artifact_verify", obj=version)
    BackgroundJob.objects.filter(pk=job.pk).update(task=task.name)
    return job


def _ago(**kwargs):
    return timezone.now() - timezone.timedelta(**kwargs)


@pytest.mark.worker
def test_pending_job_whose_message_was_lost_is_sent_again(celery_worker, version, wait_for):
    job = _lost_job(version)
    assert jobs_redispatch(pending_grace_seconds=3600, dead_after_seconds=60, max_attempts=3)["sent"] == 0
    BackgroundJob.objects.filter(pk=job.pk).update(created_at=_ago(minutes=10))
    assert jobs_redispatch(pending_grace_seconds=300, dead_after_seconds=60, max_attempts=3)["sent"] == 1
    done = wait_for(lambda: BackgroundJob.objects.filter(pk=job.pk, status="succeeded").first())
    assert done.attempts == 1


def test_a_job_sent_recently_is_not_sent_again(version):
    job = _lost_job(version)
    BackgroundJob.objects.filter(pk=job.pk).update(created_at=_ago(hours=1), sent_at=_ago(seconds=10))
    assert jobs_redispatch(pending_grace_seconds=300, dead_after_seconds=60, max_attempts=3)["sent"] == 0


def test_a_running_job_with_a_fresh_heartbeat_is_left_alone(version):
    job = _lost_job(version)
    assert job_claim(job_id=job.pk) == 1
    BackgroundJob.objects.filter(pk=job.pk).update(started_at=_ago(hours=2), heartbeat_at=_ago(seconds=5))
    assert jobs_redispatch(pending_grace_seconds=0, dead_after_seconds=60, max_attempts=3) == {
        "released": 0, "sent": 0, "failed": 0}
    assert BackgroundJob.objects.get(pk=job.pk).status == "running"


def test_a_job_claimed_without_heartbeats_is_presumed_dead_only_past_the_time_limit(version):
    job = _lost_job(version)
    assert job_claim(job_id=job.pk) == 1  # a task that does not use core.jobs: no heartbeats
    BackgroundJob.objects.filter(pk=job.pk).update(started_at=_ago(minutes=10))
    sweep = {"pending_grace_seconds": 3600, "dead_after_seconds": 60, "max_attempts": 3,
             "running_limit_seconds": 1860}
    assert jobs_redispatch(**sweep)["released"] == 0
    BackgroundJob.objects.filter(pk=job.pk).update(started_at=_ago(minutes=32))
    assert jobs_redispatch(**sweep)["released"] == 1


@pytest.mark.worker
def test_job_whose_heartbeat_stopped_runs_again(celery_worker, version, wait_for):
    job = _lost_job(version)
    assert job_claim(job_id=job.pk) == 1  # a worker claimed it, then died
    BackgroundJob.objects.filter(pk=job.pk).update(heartbeat_at=_ago(seconds=61))
    assert jobs_redispatch(pending_grace_seconds=0, dead_after_seconds=60, max_attempts=3) == {
        "released": 1, "sent": 1, "failed": 0}
    done = wait_for(lambda: BackgroundJob.objects.filter(pk=job.pk, status="succeeded").first())
    assert done.attempts == 2


def test_job_that_keeps_dying_is_failed_after_max_attempts(version):
    job = _lost_job(version)
    for _ in range(3):
        BackgroundJob.objects.filter(pk=job.pk).update(status="pending")
        assert job_claim(job_id=job.pk)
    BackgroundJob.objects.filter(pk=job.pk).update(heartbeat_at=_ago(hours=2))
    assert jobs_redispatch(pending_grace_seconds=0, dead_after_seconds=60, max_attempts=3)["failed"] == 1
    job.refresh_from_db()
    assert job.status == "failed" and "3 attempts" in job.message


def test_a_run_given_up_on_cannot_record_its_outcome(version):
    job = _lost_job(version)
    first = job_claim(job_id=job.pk)
    BackgroundJob.objects.filter(pk=job.pk).update(heartbeat_at=_ago(hours=1))
    jobs_redispatch(pending_grace_seconds=3600, dead_after_seconds=60, max_attempts=3)
    second = job_claim(job_id=job.pk)
    assert (first, second) == (1, 2)
    assert not job_finish(job_id=job.pk, attempt=first, ok=False, message="late zombie")
    assert job_finish(job_id=job.pk, attempt=second, ok=True, message="the live run")
    assert BackgroundJob.objects.get(pk=job.pk).message == "the live run"


def test_heartbeat_is_written_while_the_body_runs(version, wait_for):
    job = _lost_job(version)
    attempt = job_claim(job_id=job.pk)
    BackgroundJob.objects.filter(pk=job.pk).update(heartbeat_at=_ago(hours=1))
    with heartbeat(job_id=job.pk, attempt=attempt, every=0.05):
        wait_for(lambda: BackgroundJob.objects.get(pk=job.pk).heartbeat_at > _ago(minutes=1), timeout=10)


def test_enqueue_records_the_task_name(cast, version):
    from django.core.files.uploadedfile import SimpleUploadedFile

    v = services.model_version_register(
        actor=cast["dana"], model=version.model, artifact=SimpleUploadedFile("m.bin", b"x")
    )
    job = BackgroundJob.objects.get(object_id=str(v.pk))
    assert job.task == "registry.tasks.artifact_verify"


@pytest.mark.worker
def test_mail_is_sent_by_the_worker(celery_worker, settings, wait_for):
    import email
    from pathlib import Path

    mail_dir = Path(settings.EMAIL_FILE_PATH)  # the worker writes mail there (tests/conftest.py)
    before = set(mail_dir.glob("*")) if mail_dir.exists() else set()
    job = mail_enqueue(to=["rita@example.com", ""], subject="Sign-off waiting", body="v3 → production")
    assert job.payload["to"] == ["rita@example.com"] and job.task == "core.tasks.mail_send"
    done = wait_for(lambda: BackgroundJob.objects.filter(pk=job.pk, status="succeeded").first())
    assert done.result == {"to": ["rita@example.com"]}
    (written,) = set(mail_dir.glob("*")) - before
    message = email.message_from_string(written.read_text())
    assert message["Subject"] == "Sign-off waiting" and message["To"] == "rita@example.com"
    assert mail_enqueue(to=[""], subject="nobody", body="") is None


@pytest.mark.worker
def test_sigkilled_worker_mid_task_is_detected_and_the_job_runs_exactly_once(
    celery_worker, cast, wait_for
):
    """A worker process is SIGKILLed while it works on a job. Beat's sweep notices the silent
    heartbeat, the job runs again on the surviving worker: one result, one audit event."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    dana = cast["dana"]
    uc = services.use_case_create(actor=dana, name="Doomed")
    model = services.model_create(actor=dana, name="doomed-model", use_case=uc)
    version = services.model_version_register(actor=dana, model=model, artifact=SimpleUploadedFile("m.bin", b"good"))
    wait_for(lambda: BackgroundJob.objects.filter(object_id=str(version.pk), status="succeeded").first())
    version.refresh_from_db()
    assert version.status == "verified"

    # The stored bytes rot; and until the test writes them, reading the artifact blocks: the
    # file is a named pipe, so the check is mid-task, holding its claim, when the worker dies.
    path = version.artifact.path
    os.remove(path)
    os.mkfifo(path)
    doomed = start_worker("doomed", pool="solo", queues="doomed", log_name="celery-doomed.log",
                          extra_env={"STEWARD_JOB_HEARTBEAT_SECONDS": "1"})
    try:
        job = _lost_job(version)
        artifact_verify.apply_async(args=[job.pk], queue="doomed")
        wait_for(lambda: BackgroundJob.objects.filter(pk=job.pk, status="running").exists())
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
        killed_at = time.monotonic()
    finally:
        stop_worker(doomed)
    os.remove(path)
    with open(path, "wb") as fh:
        fh.write(b"bad!")

    assert BackgroundJob.objects.get(pk=job.pk).status == "running"  # nobody else knows yet
    # Beat's sweep, run here as beat runs it (tightened from 60 s to 5 s of silence).
    wait_for(lambda: jobs_redispatch(pending_grace_seconds=3600, dead_after_seconds=5, max_attempts=3)["released"],
             timeout=60, interval=0.5)
    done = wait_for(lambda: BackgroundJob.objects.filter(pk=job.pk, status="succeeded").first(), timeout=60)
    recovered_after = time.monotonic() - killed_at
    print(f"\nworker SIGKILLed mid-task: job {job.pk} re-run and finished {recovered_after:.1f} s after "
          f"the kill (heartbeat 1 s, dead after 5 s)")

    assert done.attempts == 2 and done.result["status"] == "corrupt"
    checks = AuditEvent.objects.filter(action="model_version.artifact_check", object_id=str(version.pk)).order_by("seq")
    assert [e.changes["status"]["after"] for e in checks] == ["verified", "corrupt"]  # one per real check
    # A late redelivery of the killed worker's message finds the job finished and does nothing.
    assert artifact_verify.apply(args=[job.pk]).get() == "skipped: job already claimed or finished"
    assert AuditEvent.objects.filter(action="model_version.artifact_check", object_id=str(version.pk)).count() == 2


def test_job_task_releases_the_job_for_celery_retries_and_fails_it_when_they_run_out(version):
    """`autoretry_for` errors put the job back for the retry to claim; the last failure sticks."""
    from core.jobs import job_task

    calls = []

    @job_task(name="tests.flaky_job", autoretry_for=(ConnectionError,), max_retries=1, retry_backoff=False,
              default_retry_delay=0)
    def flaky(job):
        calls.append(job.attempts)
        raise ConnectionError("storage unreachable")

    job = _lost_job(version, flaky)
    outcome = flaky.apply(args=[job.pk])  # in this process, retries included
    assert isinstance(outcome.result, ConnectionError)
    job.refresh_from_db()
    assert calls == [1, 2]  # the retry claimed the released job again
    assert job.status == "failed" and job.message == "Failed: storage unreachable"


def test_job_task_records_the_outcome_once(version):
    from core.jobs import JobOutcome, job_task

    @job_task(name="tests.counting_job")
    def counting(job):
        return JobOutcome(ok=True, result={"object": job.object_id}, message="Counted")

    job = _lost_job(version, counting)
    assert counting.apply(args=[job.pk]).get() == "succeeded"
    assert counting.apply(args=[job.pk]).get() == "skipped: job already claimed or finished"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result, job.message) == ("succeeded", 1, {"object": str(version.pk)}, "Counted")


def test_a_message_for_another_task_leaves_the_job_to_its_own(version, cast):
    """A stray message naming this job's id (on SQLite a rolled-back job's id is given again) but
    sent for another task claims nothing; the job's own task then runs it once."""
    from core.tasks import mail_send

    job = _lost_job(version)  # recorded for registry.tasks.artifact_verify
    assert mail_send(job.pk) == "skipped: job already claimed or finished"
    assert BackgroundJob.objects.get(pk=job.pk).status == "pending"
    assert artifact_verify(job.pk) == "succeeded"
    assert BackgroundJob.objects.get(pk=job.pk).status == "succeeded"
    assert job_claim(job_id=job.pk) == 0


def test_a_beat_sweep_claims_only_a_job_of_its_kind(version):
    from core.jobs import beat_sweep

    job = _lost_job(version)  # an artifact check, not a sweep
    assert beat_sweep(kind="reviews_open_due", job_id=job.pk, run=list, key="ids", done="made") == "skipped"
    assert BackgroundJob.objects.get(pk=job.pk).status == "pending"
