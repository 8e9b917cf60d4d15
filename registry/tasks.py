"""Worker entry points of the registry: thin wrappers that take a job id (see core/jobs.py)."""

from core.jobs import JobOutcome, job_task

from .versions import model_version_artifact_verify


@job_task()
def artifact_verify(job):
    """Verify a version's stored artifact against its SHA-256 (the job's object). A failure is
    recorded on the job; nothing here is worth retrying, so Celery does not."""
    version = model_version_artifact_verify(version_id=int(job.object_id))
    ok = version.status != version.Status.CORRUPT
    return JobOutcome(
        ok=True,
        result={"status": version.status, "sha256": version.sha256},
        message="Artifact matches its SHA-256" if ok else "Artifact does NOT match its SHA-256",
    )
