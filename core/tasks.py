from celery import shared_task
from django.conf import settings

from .services import jobs_redispatch


@shared_task
def jobs_redispatch_task():
    """Beat: re-send lost work and recover jobs whose worker died. Safe to run any time."""
    return jobs_redispatch(
        pending_grace_seconds=settings.STEWARD_JOB_PENDING_GRACE,
        running_limit_seconds=settings.CELERY_TASK_TIME_LIMIT + 60,
        max_attempts=settings.STEWARD_JOB_MAX_ATTEMPTS,
    )
