"""Worker entry points of monitoring: thin wrappers that take a job id (see core/jobs.py)."""

from celery import current_task, shared_task

from core.jobs import TRANSIENT, JobOutcome, beat_sweep, job_task

from .services import check_fail, check_part_run, checks_due


def _part_failed(job, exc, attempts):
    check_fail(part_id=int(job.object_id), error=str(exc))
    return f"Check failed: {exc}"


@job_task(failed=_part_failed, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def check_part_task(job):
    """Check one chunk of features (the job's object); a part already done is skipped. The
    database away for a moment is retried; anything else fails the whole check."""
    part = check_part_run(part_id=int(job.object_id), worker=current_task.request.hostname or "")
    return JobOutcome(
        ok=True,
        result={"check": part.check_run_id, "part": part.index, "features": part.features},
        message=f"Checked {len(part.features)} feature(s)",
    )


@shared_task
def checks_due_task(job_id: int | None = None):
    """Beat: queue the scheduled checks that fell due."""
    return beat_sweep(kind="monitoring_checks_due", job_id=job_id, run=checks_due, key="checks",
                      done="check(s) queued")
