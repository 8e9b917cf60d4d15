from celery import shared_task

from core.models import BackgroundJob
from core.services import job_claim, job_finish


@shared_task(bind=True, max_retries=3, default_retry_delay=10, retry_backoff=True)
def artifact_verify(self, job_id: int):
    """Verify a version's stored artifact against its SHA-256. Idempotent: claims the job first."""
    from .services import model_version_artifact_verify

    if not job_claim(job_id=job_id):
        return "skipped: job already claimed or finished"
    job = BackgroundJob.objects.get(pk=job_id)
    try:
        version = model_version_artifact_verify(version_id=int(job.object_id))
    except Exception as exc:  # recorded on the job, then re-raised for Celery's retry accounting
        job_finish(job_id=job_id, ok=False, message=f"Check failed: {exc}")
        raise
    ok = version.status != version.Status.CORRUPT
    job_finish(
        job_id=job_id,
        ok=True,
        result={"status": version.status, "sha256": version.sha256},
        message="Artifact matches its SHA-256" if ok else "Artifact does NOT match its SHA-256",
    )
    return version.status
