"""core's tasks and the job wrapper, run in this process: a message delivered twice works once,
and a job is never left pending by a failure nobody will retry."""

import pytest
from django.core import mail

from core.jobs import job_task
from core.services import job_create, mail_enqueue
from core.tasks import mail_send

pytestmark = pytest.mark.django_db


def test_a_mail_delivered_twice_is_sent_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = mail_enqueue(to=["rita@example.com"], subject="Sign-off waiting", body="v3 → production")
    assert job.task == "core.tasks.mail_send"
    assert mail_send(job.pk) == "succeeded"
    assert mail_send(job.pk) == "skipped: job already claimed or finished"
    assert [m.subject for m in mail.outbox] == ["Sign-off waiting"]


def test_a_task_called_directly_fails_its_job_instead_of_waiting_for_a_retry():
    """Celery never retries a task called as a function; the job must not stay pending for one."""
    seen = []

    @job_task(name="tests.direct_flaky_job", autoretry_for=(ConnectionError,), max_retries=3,
              failed=lambda job, exc, attempts: seen.append(attempts) or "Storage unreachable")
    def flaky(job):
        raise ConnectionError("storage unreachable")

    job = job_create(kind="test")
    with pytest.raises(ConnectionError):
        flaky(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.message, seen) == ("failed", 1, "Storage unreachable", [1])
