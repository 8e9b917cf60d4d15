from celery import shared_task

from core.jobs import beat_sweep
from core.models import BackgroundJob
from core.services import job_claim, job_finish, job_release


@shared_task(bind=True, max_retries=3, default_retry_delay=10, retry_backoff=True)
def check_part_task(self, job_id: int):
    """Check one chunk of features. Idempotent: claims the job; a part already done is skipped."""
    from .models import CheckPart, DriftCheck
    from .services import check_part_run

    if not job_claim(job_id=job_id):
        return "skipped: job already claimed or finished"
    job = BackgroundJob.objects.get(pk=job_id)
    try:
        part = check_part_run(part_id=int(job.object_id), worker=self.request.hostname or "")
    except Exception as exc:
        if self.request.retries < self.max_retries:
            job_release(job_id=job_id, message=f"Retrying after: {exc}")
            raise self.retry(exc=exc) from exc
        part = CheckPart.objects.filter(pk=int(job.object_id)).first()
        if part:
            DriftCheck.objects.filter(pk=part.check_run_id, status=DriftCheck.Status.RUNNING).update(
                status=DriftCheck.Status.FAILED, error=str(exc)[:2000])
        job_finish(job_id=job_id, ok=False, message=f"Check failed: {exc}")
        raise
    job_finish(job_id=job_id, ok=True, result={"check": part.check_run_id, "part": part.index, "features": part.features},
               message=f"Checked {len(part.features)} feature(s)")
    return part.pk


@shared_task
def checks_due_task(job_id: int | None = None):
    """Beat: queue the scheduled checks that fell due."""
    from .services import checks_due

    return beat_sweep(kind="monitoring_checks_due", job_id=job_id, run=checks_due, key="checks",
                      done="check(s) queued")
