import logging

from celery import shared_task

from core.models import BackgroundJob
from core.services import job_claim, job_finish, job_release

from .analyses import analyses_due, analysis_fail, analysis_run

log = logging.getLogger(__name__)

#: What the job widget says after the job's status ("Succeeded …"), in people's words.
FINISHED = {
    "completed": "— the verdict is below.",
    "interim": "— no verdict yet: progress and data quality only.",
}


@shared_task(bind=True, max_retries=3, default_retry_delay=10)
def analysis_run_task(self, job_id: int):
    """Run one queued analysis. Idempotent: claims the job first, so a duplicate delivery is a no-op.
    An unexpected error is retried; after the last try the analysis is recorded as failed, with
    the time and a message for people (the exception goes to the worker's log)."""
    if not job_claim(job_id=job_id):
        return "skipped: job already claimed or finished"
    job = BackgroundJob.objects.get(pk=job_id)
    try:
        analysis = analysis_run(analysis_id=int(job.object_id))
    except Exception as exc:
        if self.request.retries < self.max_retries:
            job_release(job_id=job_id, message=f"Retrying after an error ({type(exc).__name__})")
            raise self.retry(exc=exc) from exc
        log.exception("analysis %s failed (job %s)", job.object_id, job_id)
        analysis = analysis_fail(analysis_id=int(job.object_id), error=exc, attempts=self.request.retries + 1)
        job_finish(job_id=job_id, ok=False, message=analysis.results["error"])
        raise
    job_finish(job_id=job_id, ok=analysis.status != "failed", result={"analysis": analysis.pk, "status": analysis.status},
               message=FINISHED.get(analysis.status) or analysis.results.get("error", ""))
    return analysis.status


@shared_task
def analyses_due_task():
    """Beat: queue analyses for running experiments that reached their horizon."""
    return len(analyses_due())
