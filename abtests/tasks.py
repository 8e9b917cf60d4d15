"""Worker entry points of experiments: thin wrappers that take a job id (see core/jobs.py)."""

from celery import shared_task

from core.jobs import TRANSIENT, JobOutcome, beat_sweep, job_task

from .analyses import analyses_due, analysis_fail, analysis_run

#: What the job widget says after the job's status ("Succeeded …"), in people's words.
FINISHED = {
    "completed": "— the verdict is below.",
    "interim": "— no verdict yet: progress and data quality only.",
}


def _analysis_failed(job, exc, attempts):
    """Record the analysis as failed, with the time and a message for people (the exception
    itself goes to the worker's log); that message is the job's too."""
    return analysis_fail(analysis_id=int(job.object_id), error=exc, attempts=attempts).results["error"]


@job_task(failed=_analysis_failed, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def analysis_run_task(job):
    """Run one queued analysis (the job's object). A database away for a moment is retried three
    times, backing off; any other error, or the last retry's, fails the analysis at once."""
    analysis = analysis_run(analysis_id=int(job.object_id))
    return JobOutcome(
        ok=analysis.status != "failed",
        result={"analysis": analysis.pk, "status": analysis.status},
        message=FINISHED.get(analysis.status) or analysis.results.get("error", ""),
    )


@shared_task
def analyses_due_task(job_id: int | None = None):
    """Beat: queue analyses for running experiments that reached their horizon."""
    return beat_sweep(kind="abtests_analyses_due", job_id=job_id, run=analyses_due, key="analyses",
                      done="analysis(es) queued")
