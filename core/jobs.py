"""The one way a Celery task works on a `BackgroundJob`: claim, keep a heartbeat, finish.

    @job_task()
    def artifact_verify(job):                 # the task takes a job id; the body gets the row
        version = model_version_artifact_verify(version_id=int(job.object_id))
        return JobOutcome(ok=True, result={"status": version.status}, message="Checked")

`job_task(**celery_options)` makes a `shared_task(job_id)` that
- claims the job (`pending → running`); a second delivery of the same message finds it claimed or
  finished and returns "skipped" without doing anything;
- while the body runs, writes `heartbeat_at` every STEWARD_JOB_HEARTBEAT_SECONDS from a thread, so
  beat (`jobs_redispatch`) can tell a slow job from one whose worker died;
- records the outcome the body returns (a `JobOutcome`, or None for "Done");
- on an exception: if Celery will retry it (`autoretry_for=(…)` matches and retries are left) the
  job goes back to pending for the retry to claim; otherwise `failed(job, exc, attempts)` (if
  given) records the failure on the job's object and may return the message for people, the job
  is failed with it, and the exception is re-raised so it is logged once, by Celery.

Retry only what may pass: `autoretry_for=TRANSIENT` (the database or a network storage away for a
moment), with `retry_backoff=True` and a bounded `max_retries`. Errors in the data fail at once.
"""

import dataclasses
import functools
import logging
import threading
from contextlib import contextmanager

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from .models import BackgroundJob
from .services import job_claim, job_create, job_finish, job_heartbeat, job_release

logger = logging.getLogger(__name__)

#: Errors worth a retry: the database (connection lost, deadlock, serialization failure — all
#: OperationalError on PostgreSQL) or a storage/network peer gone for a moment.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@dataclasses.dataclass
class JobOutcome:
    ok: bool = True
    result: dict = dataclasses.field(default_factory=dict)
    message: str = ""


@contextmanager
def heartbeat(*, job_id: int, attempt: int, every: float | None = None):
    """Write the job's heartbeat from a thread until the block ends."""
    every = settings.STEWARD_JOB_HEARTBEAT_SECONDS if every is None else every
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(every):
                try:
                    if not job_heartbeat(job_id=job_id, attempt=attempt):
                        logger.warning("job %s: attempt %s is no longer the job's run", job_id, attempt)
                        return
                except Exception:  # noqa: BLE001 - a missed beat is not fatal; the next may pass
                    logger.warning("job %s: heartbeat not written", job_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _will_retry(task, exc: BaseException) -> bool:
    retry_on = tuple(getattr(task, "autoretry_for", ()) or ())
    max_retries = task.max_retries
    if task.request.called_directly:  # `task(job_id)` in this process: Celery re-raises, never retries
        return False
    return bool(retry_on) and isinstance(exc, retry_on) and (
        max_retries is None or task.request.retries < max_retries
    )


def _failed(failed, job, exc: Exception, attempts: int) -> str:
    """The job's message for a failure that sticks; `failed` records it on the job's object."""
    message = f"Failed: {exc}"
    if failed is None:
        return message
    try:
        return failed(job, exc, attempts) or message
    except Exception:  # noqa: BLE001 - the job must still be finished; the hook's error is logged
        logger.exception("job %s: recording the failure on its object failed", job.pk)
        return message


def job_run(*, task, job_id: int, body, failed=None) -> str:
    """Claim job `job_id`, run `body(job)` under a heartbeat, record what it returns."""
    attempt = job_claim(job_id=job_id, heartbeat=True, task=task.name)
    if not attempt:
        return "skipped: job already claimed or finished"
    job = BackgroundJob.objects.get(pk=job_id)
    try:
        with heartbeat(job_id=job_id, attempt=attempt):
            outcome = body(job) or JobOutcome()
    except Exception as exc:
        if _will_retry(task, exc):
            # The type only: the page shows this message, the log has the error itself.
            job_release(job_id=job_id, attempt=attempt, message=f"Retrying after an error ({type(exc).__name__})")
        else:
            message = _failed(failed, job, exc, attempt)
            job_finish(job_id=job_id, attempt=attempt, ok=False, message=message)
        raise
    job_finish(job_id=job_id, attempt=attempt, ok=outcome.ok, result=outcome.result, message=outcome.message)
    return "succeeded" if outcome.ok else "failed"


def job_task(*, failed=None, **celery_options):
    """Decorator: `body(job) -> JobOutcome | None` becomes a Celery task taking a job id.

    `failed(job, exc, attempts) -> str | None`: called once when the job fails for good (no retry
    left; `attempts`: the runs the job had), to record the failure on the job's object; returns
    the job's message for people."""

    def decorate(body):
        @shared_task(bind=True, name=celery_options.pop("name", f"{body.__module__}.{body.__name__}"),
                     **celery_options)
        @functools.wraps(body)
        def task(self, job_id: int):
            return job_run(task=self, job_id=job_id, body=body, failed=failed)

        return task

    return decorate


def beat_sweep(*, kind: str, job_id: int | None, run, key: str, done: str) -> int | str:
    """A periodic sweep that beat sends without a job id (due reviews, due drift checks, passed
    retention dates): it gets a job row of its own, claimed like any job so that a message
    delivered twice works once. `run()` returns the objects it made; the job records their ids
    under `key` and "<count> <done>". Returns the count, or "skipped" when the job was claimed."""
    if job_id is None:
        job_id = job_create(kind=kind, message="Queued by beat").pk
    if not job_claim(job_id=job_id, kind=kind):
        return "skipped"
    try:
        made = run()
    except Exception as exc:
        job_finish(job_id=job_id, ok=False, message=f"Failed: {exc}")
        raise
    job_finish(job_id=job_id, ok=True, result={key: [obj.pk for obj in made]}, message=f"{len(made)} {done}")
    return len(made)
