"""Worker entry points of privacy (see core/jobs.py)."""

from celery import shared_task

from core.jobs import beat_sweep

from .services import retention_obligations_open


@shared_task
def retention_obligations_task(job_id: int | None = None):
    """Beat entry point: open obligations for passed retention dates. Idempotent by the job
    claim and by the one-obligation-per-model-and-dataset constraint."""
    return beat_sweep(kind="retention_obligations", job_id=job_id, run=retention_obligations_open, key="opened",
                      done="obligation(s) opened")
