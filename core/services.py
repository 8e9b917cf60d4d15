"""Services for API tokens and background jobs."""

import logging

from celery import current_app
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record

from .errors import Forbidden, InvalidInput
from .models import ApiToken, BackgroundJob
from .roles import is_admin, is_read_only

logger = logging.getLogger(__name__)


@transaction.atomic
def token_create(*, user, actor, name: str = "", scope: str | None = None) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the raw key (shown once, never stored).

    `scope` is `read` or `write`; by default `write`, except for read-only users (auditors), who
    can only ever have `read` tokens.
    """
    if actor is not None and actor != user and not is_admin(actor):
        raise Forbidden("Only administrators may create tokens for other users.")
    read_only = is_read_only(user)
    if scope is None:
        scope = ApiToken.Scope.READ if read_only else ApiToken.Scope.WRITE
    if scope not in ApiToken.Scope.values:
        raise InvalidInput("Unknown token scope.", fields={"scope": [f"Choose one of: {', '.join(ApiToken.Scope.values)}."]})
    if read_only and scope != ApiToken.Scope.READ:
        raise Forbidden(
            f"{user.get_username()} has read-only access; their tokens can only have the read scope.",
            fields={"scope": ["Read-only users get read tokens only."]},
        )
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=key[4:12], key_hash=ApiToken.hash_key(key), scope=scope
    )
    audit_record(
        action="token.create",
        actor=actor,
        obj=token,
        changes={
            "user": {"before": None, "after": user.get_username()},
            "name": {"before": None, "after": name},
            "scope": {"before": None, "after": scope},
        },
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


def job_create(
    *, kind: str, actor=None, obj=None, message: str = "Queued", payload: dict | None = None
) -> BackgroundJob:
    """Create a pending job row; the caller enqueues its task with `job_enqueue`."""
    object_type = object_id = ""
    if obj is not None:
        object_type, object_id = f"{obj._meta.app_label}.{obj._meta.model_name}", str(obj.pk)
    return BackgroundJob.objects.create(
        kind=kind,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        object_type=object_type,
        object_id=object_id,
        message=message,
        payload=payload or {},
    )


def job_enqueue(*, job: BackgroundJob, task) -> None:
    """Send `task(job.pk)` once the surrounding transaction commits (`task`: a task or its name).

    A broker outage must not undo the committed change: the job stays pending and
    `jobs_redispatch` (beat) sends it again later.
    """

    name = task if isinstance(task, str) else task.name
    BackgroundJob.objects.filter(pk=job.pk).update(task=name)
    job.task = name

    def send():
        try:
            registered = current_app.tasks.get(name)  # honours CELERY_TASK_ALWAYS_EAGER
            if registered is not None:
                registered.delay(job.pk)
            else:
                current_app.send_task(name, args=[job.pk])
        except Exception:  # noqa: BLE001 - logged; the pending row is the retry record
            logger.exception("could not enqueue %s for job %s; beat will retry", name, job.pk)
        else:
            BackgroundJob.objects.filter(pk=job.pk).update(sent_at=timezone.now())

    transaction.on_commit(send)


def job_claim(*, job_id: int, heartbeat: bool = False, task: str | None = None, kind: str | None = None) -> int:
    """`pending → running` in one conditional UPDATE.

    `task` (the claiming task's name) and `kind`: a message claims only the job it was sent for —
    one whose recorded task is that task (or none was recorded: called directly) and of that kind.
    A stray message naming another job's id (ids of rolled-back rows are reused on SQLite)
    leaves that job to its own task.

    Returns the attempt number (1, 2, …) to the one caller that won, 0 to every other. The attempt
    number fences the run: heartbeats and `job_finish(attempt=…)` of a run that beat has since
    given up on change nothing. `heartbeat=True` (what `core.jobs` passes) promises heartbeats, so
    the job is presumed dead after STEWARD_JOB_DEAD_AFTER of silence; a job claimed without one
    is presumed dead only past the task time limit.
    """
    pending = BackgroundJob.objects.filter(pk=job_id, status=BackgroundJob.Status.PENDING)
    if task is not None:
        pending = pending.filter(task__in=[task, ""])
    if kind is not None:
        pending = pending.filter(kind=kind)
    attempts = pending.values_list("attempts", flat=True).first()
    if attempts is None:
        return 0
    now = timezone.now()
    claimed = pending.filter(attempts=attempts).update(
        status=BackgroundJob.Status.RUNNING, started_at=now, heartbeat_at=now if heartbeat else None,
        message="Running",
        attempts=attempts + 1,
    )
    return attempts + 1 if claimed else 0


def job_heartbeat(*, job_id: int, attempt: int) -> bool:
    """Say the run `attempt` of this job is alive; False when the job is no longer that run's."""
    return bool(
        BackgroundJob.objects.filter(
            pk=job_id, status=BackgroundJob.Status.RUNNING, attempts=attempt
        ).update(heartbeat_at=timezone.now())
    )


def job_progress(*, job_id: int, progress: int, message: str = "") -> None:
    BackgroundJob.objects.filter(pk=job_id, status=BackgroundJob.Status.RUNNING).update(
        progress=max(0, min(100, progress)), message=message[:300]
    )


def job_finish(
    *, job_id: int, ok: bool, result: dict | None = None, message: str = "", attempt: int | None = None
) -> bool:
    """Record the outcome. With `attempt`, only if the job is still that run's (see `job_claim`)."""
    jobs = BackgroundJob.objects.filter(pk=job_id)
    if attempt is not None:
        jobs = jobs.filter(status=BackgroundJob.Status.RUNNING, attempts=attempt)
    return bool(jobs.update(
        status=BackgroundJob.Status.SUCCEEDED if ok else BackgroundJob.Status.FAILED,
        progress=100 if ok else 0,
        result=result or {},
        message=(message or ("Done" if ok else "Failed"))[:300],
        finished_at=timezone.now(),
    ))


def job_release(*, job_id: int, message: str = "Retrying", attempt: int | None = None) -> bool:
    """Put a running job back to pending so a retry of its task can claim it again."""
    jobs = BackgroundJob.objects.filter(pk=job_id, status=BackgroundJob.Status.RUNNING)
    if attempt is not None:
        jobs = jobs.filter(attempts=attempt)
    return bool(jobs.update(status=BackgroundJob.Status.PENDING, message=message[:300]))


def jobs_redispatch(
    *, pending_grace_seconds: int, dead_after_seconds: int, max_attempts: int,
    running_limit_seconds: int | None = None,
) -> dict:
    """Send again the work whose worker died or whose message was lost; give up on work that
    keeps dying. Beat runs it every STEWARD_JOB_SWEEP_SECONDS; safe to run any time, anywhere.

    - running, with no heartbeat for `dead_after_seconds` (or, for a job claimed without
      heartbeats, started more than `running_limit_seconds` ago — past the task time limit): the
      process working on it died (killed, out of memory, machine gone). Its message was consumed (filesystem broker) or will be
      redelivered only after the broker's visibility timeout, and a redelivery would find the job
      `running` and skip it. So the job goes back to pending and is sent again at once — or is
      failed once it has been claimed `max_attempts` times.
    - pending, last sent more than `pending_grace_seconds` ago: the broker was down at enqueue
      time, or the message was lost. Sent again; should the first message still arrive, the claim
      makes one of the two a no-op.

    Each change is one conditional UPDATE that re-checks the condition, so a heartbeat arriving
    meanwhile wins, and two sweeps running at once release a job once.
    """
    now = timezone.now()
    dead_before = now - timezone.timedelta(seconds=dead_after_seconds)
    running = BackgroundJob.objects.filter(status=BackgroundJob.Status.RUNNING).exclude(task="")
    silent = Q(heartbeat_at__lt=dead_before)
    if running_limit_seconds is not None:
        limit = now - timezone.timedelta(seconds=running_limit_seconds)
        silent |= Q(heartbeat_at__isnull=True, started_at__lt=limit)
    dead = running.filter(silent)
    released, failed = [], 0
    for job in dead.only("pk", "attempts", "task"):
        still_dead = dead.filter(pk=job.pk, attempts=job.attempts)
        if job.attempts >= max_attempts:
            failed += still_dead.update(
                status=BackgroundJob.Status.FAILED, finished_at=now,
                message=f"Gave up after {job.attempts} attempts (the worker stopped responding).",
            )
        elif still_dead.update(
            status=BackgroundJob.Status.PENDING, message="Worker stopped responding; queued again"
        ):
            released.append(job)
            logger.warning("job %s (%s) lost its worker; sending it again", job.pk, job.task)
    resend = list(
        BackgroundJob.objects.filter(status=BackgroundJob.Status.PENDING)
        .filter(
            Q(sent_at__lt=now - timezone.timedelta(seconds=pending_grace_seconds))
            | Q(sent_at__isnull=True, created_at__lt=now - timezone.timedelta(seconds=pending_grace_seconds))
        )
        .exclude(task="").exclude(pk__in=[job.pk for job in released]).only("pk", "task")
    )
    for job in released + resend:
        current_app.send_task(job.task, args=[job.pk])
        BackgroundJob.objects.filter(pk=job.pk).update(sent_at=timezone.now())
    return {"released": len(released), "sent": len(released) + len(resend), "failed": failed}


def mail_enqueue(
    *, to: list[str], subject: str, body: str, html: str | None = None, actor=None, obj=None
) -> BackgroundJob | None:
    """Send a mail through the worker once the surrounding transaction commits.

    The request that causes a mail neither waits for the mail server nor fails with it; the job
    (kind `mail`) records whether it went out. Nothing is queued without recipients.
    """
    to = [address for address in to if address]
    if not to:
        return None
    job = job_create(
        kind="mail", actor=actor, obj=obj, message=f"Mail queued: {subject}"[:300],
        payload={"to": to, "subject": subject, "body": body, "html": html or ""},
    )
    job_enqueue(job=job, task="core.tasks.mail_send")
    return job
