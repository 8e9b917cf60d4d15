from celery import shared_task

from core.services import job_claim, job_create, job_finish


@shared_task
def retention_obligations_task(job_id: int | None = None):
    """Beat entry point: open obligations for passed retention dates. Idempotent by the job
    claim and by the one-obligation-per-model-and-dataset constraint."""
    from .services import retention_obligations_open

    if job_id is None:
        job_id = job_create(kind="retention_obligations", message="Queued by beat").pk
    if not job_claim(job_id=job_id):
        return "skipped"
    try:
        opened = retention_obligations_open()
    except Exception as exc:
        job_finish(job_id=job_id, ok=False, message=f"Failed: {exc}")
        raise
    job_finish(job_id=job_id, ok=True, result={"opened": [o.pk for o in opened]},
               message=f"{len(opened)} obligation(s) opened")
    return len(opened)
