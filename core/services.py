"""Services for API tokens and background jobs."""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record

from .errors import Forbidden
from .models import ApiToken, BackgroundJob
from .roles import is_admin

logger = logging.getLogger(__name__)


@transaction.atomic
def token_create(*, user, actor, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the raw key (shown once, never stored)."""
    if actor is not None and actor != user and not is_admin(actor):
        raise Forbidden("Only administrators may create tokens for other users.")
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=key[4:12], key_hash=ApiToken.hash_key(key)
    )
    audit_record(
        action="token.create",
        actor=actor,
        obj=token,
        changes={"user": {"before": None, "after": user.get_username()}, "name": {"before": None, "after": name}},
    )
    return token, key


@transaction.atomic
def token_revoke(*, token: ApiToken, actor) -> ApiToken:
    if actor != token.user and not is_admin(actor):
        raise Forbidden("You may revoke only your own tokens.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(action="token.revoke", actor=actor, obj=token)
    return token


def job_create(*, kind: str, actor=None, obj=None, message: str = "Queued") -> BackgroundJob:
    """Create a pending job row; the caller enqueues its task with `transaction.on_commit`."""
    object_type = object_id = ""
    if obj is not None:
        object_type, object_id = f"{obj._meta.app_label}.{obj._meta.model_name}", str(obj.pk)
    return BackgroundJob.objects.create(
        kind=kind,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        object_type=object_type,
        object_id=object_id,
        message=message,
    )


def job_enqueue(*, job: BackgroundJob, task) -> None:
    """Send `task(job.pk)` once the surrounding transaction commits.

    A broker outage must not undo the committed change: the job stays pending and
    `jobs_redispatch` (beat) sends it again later.
    """

    BackgroundJob.objects.filter(pk=job.pk).update(task=task.name)
    job.task = task.name

    def send():
        try:
            task.delay(job.pk)
        except Exception:  # noqa: BLE001 - logged; the pending row is the retry record
            logger.exception("could not enqueue %s for job %s; beat will retry", task.name, job.pk)

    transaction.on_commit(send)


def job_claim(*, job_id: int) -> bool:
    """`pending → running` in one conditional UPDATE; True only for the one caller that won."""
    claimed = BackgroundJob.objects.filter(pk=job_id, status=BackgroundJob.Status.PENDING).update(
        status=BackgroundJob.Status.RUNNING, started_at=timezone.now(), message="Running",
        attempts=F("attempts") + 1,
    )
    return claimed == 1


def job_progress(*, job_id: int, progress: int, message: str = "") -> None:
    BackgroundJob.objects.filter(pk=job_id, status=BackgroundJob.Status.RUNNING).update(
        progress=max(0, min(100, progress)), message=message[:300]
    )


def job_finish(*, job_id: int, ok: bool, result: dict | None = None, message: str = "") -> None:
    BackgroundJob.objects.filter(pk=job_id).update(
        status=BackgroundJob.Status.SUCCEEDED if ok else BackgroundJob.Status.FAILED,
        progress=100 if ok else 0,
        result=result or {},
        message=(message or ("Done" if ok else "Failed"))[:300],
        finished_at=timezone.now(),
    )


def job_release(*, job_id: int, message: str = "Retrying") -> None:
    """Put a running job back to pending so a retry of its task can claim it again."""
    BackgroundJob.objects.filter(pk=job_id, status=BackgroundJob.Status.RUNNING).update(
        status=BackgroundJob.Status.PENDING, message=message[:300]
    )


def jobs_redispatch(*, pending_grace_seconds: int, running_limit_seconds: int, max_attempts: int) -> dict:
    """Send again the work whose message was lost; give up on work that keeps failing.

    - pending for longer than `pending_grace_seconds`: the broker was down at enqueue time, or the
      message was lost. Sent again; if the first message still arrives, the claim makes one a no-op.
    - running for longer than `running_limit_seconds` (past the task time limit): the worker died
      mid-task. Its redelivered message finds the job `running` and skips it, so we put the job
      back to pending and send it again — or fail it after `max_attempts` claims.
    """
    from celery import current_app

    now = timezone.now()
    stuck = BackgroundJob.objects.filter(
        status=BackgroundJob.Status.RUNNING,
        started_at__lt=now - timezone.timedelta(seconds=running_limit_seconds),
    ).exclude(task="")
    failed = 0
    for job in stuck.only("pk", "attempts"):
        if job.attempts >= max_attempts:
            BackgroundJob.objects.filter(pk=job.pk, status=BackgroundJob.Status.RUNNING).update(
                status=BackgroundJob.Status.FAILED, finished_at=now,
                message=f"Gave up after {job.attempts} attempts (the worker stopped responding).",
            )
            failed += 1
        else:
            job_release(job_id=job.pk, message="Worker stopped responding; queued again")
    resend = BackgroundJob.objects.filter(
        status=BackgroundJob.Status.PENDING,
        created_at__lt=now - timezone.timedelta(seconds=pending_grace_seconds),
    ).exclude(task="").values_list("pk", "task")
    sent = 0
    for job_id, task_name in resend:
        current_app.send_task(task_name, args=[job_id])
        sent += 1
    return {"sent": sent, "failed": failed}
