from celery import shared_task

from core.models import BackgroundJob
from core.services import job_claim, job_finish, job_release


@shared_task(bind=True, max_retries=3, default_retry_delay=10, retry_backoff=True)
def bias_report_compute_task(self, job_id: int):
    """Compute one queued bias report. Idempotent: claims the job first; the service returns a
    finished report as it is."""
    from .services import bias_report_compute, bias_report_fail

    if not job_claim(job_id=job_id):
        return "skipped: job already claimed or finished"
    job = BackgroundJob.objects.get(pk=job_id)
    try:
        report = bias_report_compute(report_id=int(job.object_id))
    except Exception as exc:
        if self.request.retries < self.max_retries:
            job_release(job_id=job_id, message=f"Retrying after: {exc}")
            raise self.retry(exc=exc) from exc
        bias_report_fail(report_id=int(job.object_id), error=str(exc))
        job_finish(job_id=job_id, ok=False, message=f"Bias report failed: {exc}")
        raise
    job_finish(job_id=job_id, ok=report.status == "completed",
               result={"report": report.pk, "status": report.status, "passed": report.passed},
               message=f"Bias report {report.status}")
    return report.status
