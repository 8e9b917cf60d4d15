"""Worker entry points of fairness: thin wrappers that take a job id (see core/jobs.py)."""

from core.jobs import TRANSIENT, JobOutcome, job_task

from .services import bias_report_compute, bias_report_fail


def _report_failed(job, exc, attempts):
    bias_report_fail(report_id=int(job.object_id), error=str(exc))
    return f"Bias report failed: {exc}"


@job_task(failed=_report_failed, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def bias_report_compute_task(job):
    """Compute one queued bias report (the job's object); the service returns a finished report as
    it is. The database or the evaluation set's storage away for a moment is retried; an
    evaluation set that cannot be read fails the report at once."""
    report = bias_report_compute(report_id=int(job.object_id))
    return JobOutcome(
        ok=report.status == "completed",
        result={"report": report.pk, "status": report.status, "passed": report.passed},
        message=f"Bias report {report.status}",
    )
