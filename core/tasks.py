from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from .jobs import JobOutcome, job_task
from .services import jobs_redispatch


@shared_task
def jobs_redispatch_task():
    """Beat: re-send lost work and recover jobs whose worker died. Safe to run any time."""
    return jobs_redispatch(
        pending_grace_seconds=settings.STEWARD_JOB_PENDING_GRACE,
        dead_after_seconds=settings.STEWARD_JOB_DEAD_AFTER,
        max_attempts=settings.STEWARD_JOB_MAX_ATTEMPTS,
        running_limit_seconds=settings.CELERY_TASK_TIME_LIMIT + 60,  # jobs without heartbeats
    )


@job_task()
def mail_send(job):
    """Send one mail queued by `core.services.mail_enqueue` (the web request does not wait for
    the mail server). Claimed like every job: a redelivered message sends nothing twice; a worker
    that dies between handing the mail over and recording it may cause one repeat."""
    mail = job.payload
    message = EmailMultiAlternatives(
        subject=mail["subject"], body=mail["body"], from_email=settings.DEFAULT_FROM_EMAIL, to=mail["to"]
    )
    if mail.get("html"):
        message.attach_alternative(mail["html"], "text/html")
    sent = message.send()
    return JobOutcome(ok=bool(sent), result={"to": mail["to"]}, message=f"Sent to {len(mail['to'])}")
