import hashlib
import secrets

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A personal API token. Only the SHA-256 of the key is stored; the key is shown once.

    A token carries a scope: `read` tokens may only read (GET, HEAD, OPTIONS), whatever their
    owner may do; `write` tokens act with their owner's rights. Auditors get read tokens only
    (`core.services.token_create`), and a write token of someone who later became a read-only
    user reads only (`core.authentication`).
    """

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=8, help_text="First characters of the key, to tell tokens apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.WRITE)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def generate_key() -> str:
        return "stw_" + secrets.token_urlsafe(30)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class BackgroundJob(models.Model):
    """One piece of background work started by a person or by beat, and its visible progress.

    Tasks claim the row with a conditional UPDATE (`pending → running`) and proceed only if they
    changed it, so a task delivered twice does its work once. While it runs, the worker writes
    `heartbeat_at`; beat puts a running job whose heartbeat stopped back to pending and sends it
    again (`core.jobs`, docs/operations.md). Pages poll `/jobs/<id>/` for status.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=60, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0–100")
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The Celery task that works on this job, so `jobs_redispatch` can send it again.
    task = models.CharField(max_length=200, blank=True)
    # What the task needs beyond the object (e.g. a mail's recipients and text); ids, not rows.
    payload = models.JSONField(default=dict, blank=True)
    # When its message was last handed to the broker (first enqueue or a re-send by beat).
    sent_at = models.DateTimeField(null=True, blank=True)
    # Written every STEWARD_JOB_HEARTBEAT_SECONDS by the process working on a running job; a
    # running job whose heartbeat is older than STEWARD_JOB_DEAD_AFTER lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
