from celery import shared_task

from core.models import BackgroundJob
from core.services import job_claim, job_finish, job_release


@shared_task(bind=True, max_retries=3, default_retry_delay=10, retry_backoff=True)
def analysis_run_task(self, job_id: int):
    """Run one queued analysis. Idempotent: claims the job first, so a duplicate delivery is a no-op."""
    from .models import Analysis
    from .services import analysis_run

    if not job_claim(job_id=job_id):
        return "skipped: job already claimed or finished"
    job = BackgroundJob.objects.get(pk=job_id)
    try:
        analysis = analysis_run(analysis_id=int(job.object_id))
    except Exception as exc:
        if self.request.retries < self.max_retries:
            job_release(job_id=job_id, message=f"Retrying after: {exc}")
            raise self.retry(exc=exc) from exc
        Analysis.objects.filter(pk=int(job.object_id)).update(status=Analysis.Status.FAILED, results={"error": str(exc)})
        job_finish(job_id=job_id, ok=False, message=f"Analysis failed: {exc}")
        raise
    job_finish(job_id=job_id, ok=analysis.status != Analysis.Status.FAILED, result={"analysis": analysis.pk, "status": analysis.status},
               message=f"Analysis {analysis.status}")
    return analysis.status


@shared_task
def analyses_due_task():
    """Beat: queue analyses for running experiments that reached their horizon."""
    from .services import analyses_due

    return len(analyses_due())
