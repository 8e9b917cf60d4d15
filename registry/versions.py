"""Model versions: registration (numbered under a lock on the model row), the few fields that
may change, the low-level stage change governance calls, and the artifact check."""

import hashlib

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_record, diff, snapshot
from core.api import PayloadTooLarge
from core.errors import InvalidInput
from core.refusals import refusals_audited
from core.services import job_create, job_enqueue

from . import access
from .models import ModelVersion, RegisteredModel
from .writing import set_tags, validate

VERSION_FIELDS = [
    "number", "description", "artifact_uri", "artifact_filename", "sha256", "size", "framework",
    "input_signature", "code_repository", "code_commit", "training_run", "params", "metrics",
    "stage", "status",
]
#: Sent by name: the tasks module imports this one, not the other way round.
ARTIFACT_VERIFY_TASK = "registry.tasks.artifact_verify"


@refusals_audited("model_version.register")
@transaction.atomic
def model_version_register(
    *,
    actor,
    model: RegisteredModel,
    artifact=None,
    artifact_uri: str = "",
    sha256: str = "",
    training_datasets=(),
    validation_datasets=(),
    tags=(),
    **fields,
) -> ModelVersion:
    """Register the next version of `model`.

    Either `artifact` (an uploaded file whose SHA-256 the upload handler computed while streaming
    it) or `artifact_uri` with the client's `sha256`. The model row is locked so concurrent
    registrations get consecutive numbers.
    """
    access.require(access.model_can_write(actor, model), "You may add versions only to models you own or of your use cases.")
    errors = {}
    if artifact is None and not artifact_uri:
        errors["artifact"] = ["Upload a file in 'artifact' or give 'artifact_uri' with 'sha256'."]
    if artifact is not None and artifact_uri:
        errors["artifact_uri"] = ["Give either an uploaded artifact or a URI, not both."]
    if artifact_uri and not sha256:
        errors["sha256"] = ["Required with 'artifact_uri'."]
    server_sha = getattr(artifact, "sha256", None) if artifact is not None else None
    if artifact is not None and server_sha is None:
        server_sha = _sha256_of(artifact)
    if artifact is not None and sha256 and sha256.lower() != server_sha:
        errors["sha256"] = [f"Does not match the uploaded bytes (server computed {server_sha})."]
    if artifact is not None and artifact.size > settings.ARTIFACT_MAX_BYTES:
        raise PayloadTooLarge(f"Artifact exceeds the limit of {settings.ARTIFACT_MAX_BYTES} bytes.")
    if errors:
        raise InvalidInput("Invalid input.", fields=errors)

    locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ModelVersion(
        model=locked,
        number=number,
        artifact_uri=artifact_uri,
        sha256=(server_sha or sha256).lower(),
        size=artifact.size if artifact is not None else fields.pop("size", None),
        created_by=actor,
        status=ModelVersion.Status.PENDING if artifact is not None else ModelVersion.Status.REFERENCED,
        **fields,
    )
    if artifact is not None:
        version.artifact_filename = artifact.name[:255]
    validate(version, exclude=["artifact", "model", "created_by"])
    if artifact is not None:
        version.artifact.save(artifact.name, artifact, save=False)
        stored = version.artifact.name
    try:
        version.save(force_insert=True)
    except Exception:
        if artifact is not None:
            version.artifact.storage.delete(stored)
        raise
    # A new version has no links yet: add them (`set` would read the current ones first).
    if training_datasets:
        version.training_datasets.add(*training_datasets)
    if validation_datasets:
        version.validation_datasets.add(*validation_datasets)
    if tags:
        set_tags(version, tags)
    changes = diff({}, snapshot(version, VERSION_FIELDS))
    changes["training_datasets"] = {"before": None, "after": sorted(d.pk for d in training_datasets)}
    if validation_datasets:
        changes["validation_datasets"] = {"before": None, "after": sorted(d.pk for d in validation_datasets)}
    audit_record(action="model_version.register", actor=actor, obj=version, changes=changes)
    if artifact is not None:
        model_version_artifact_check_enqueue(version=version, actor=actor)
    return version


@refusals_audited("model_version.update")
@transaction.atomic
def model_version_update(*, actor, version: ModelVersion, description=None, tags=None) -> ModelVersion:
    """Versions are immutable but for their description and tags."""
    access.require(access.model_can_write(actor, version.model), "You may change only versions of models you own.")
    changes = {}
    if description is not None and description != version.description:
        changes["description"] = {"before": version.description, "after": description}
        version.description = description
        version.save(update_fields=["description", "updated_at"])
    if tags is not None:
        changes.update(set_tags(version, tags))
    if changes:
        audit_record(action="model_version.update", actor=actor, obj=version, changes=changes)
    return version


@transaction.atomic
def model_version_set_stage(
    *, version: ModelVersion, stage: str, actor, reason: str, evidence: dict | None = None
) -> ModelVersion:
    """Low-level stage change. Only the governance workflow calls this (it holds the rules).

    The audit event (`model_version.stage_change`) is what point-in-time questions are answered
    from, so it carries the model name, version number and `evidence` (e.g. promotion id,
    approvers, policy version) alongside the stage before/after.
    """
    before = version.stage
    if before == stage:
        return version
    version.stage = stage
    version.save(update_fields=["stage", "updated_at"])
    changes = {
        "stage": {"before": before, "after": stage},
        "reason": {"before": None, "after": reason},
        "model": {"before": None, "after": version.model.name},
        "number": {"before": None, "after": version.number},
    }
    for key, value in (evidence or {}).items():
        changes[key] = {"before": None, "after": value}
    audit_record(action="model_version.stage_change", actor=actor, obj=version, changes=changes)
    return version


def _sha256_of(fileobj) -> str:
    hasher = hashlib.sha256()
    for chunk in fileobj.chunks():
        hasher.update(chunk)
    fileobj.seek(0)
    return hasher.hexdigest()


def model_version_artifact_check_enqueue(*, version: ModelVersion, actor=None):
    """Queue a background check of the stored bytes against the recorded SHA-256."""
    job = job_create(kind="artifact_verify", actor=actor, obj=version, message="Artifact check queued")
    job_enqueue(job=job, task=ARTIFACT_VERIFY_TASK)
    return job


@transaction.atomic
def model_version_artifact_verify(*, version_id: int) -> ModelVersion:
    """Re-hash the stored artifact and record whether it matches. Safe to run twice."""
    # NO KEY UPDATE: we change no key, so inserts referencing this version are not blocked.
    version = ModelVersion.objects.select_for_update(no_key=True).get(pk=version_id)
    if not version.artifact:
        return version
    hasher = hashlib.sha256()
    with version.artifact.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            hasher.update(chunk)
    status = ModelVersion.Status.VERIFIED if hasher.hexdigest() == version.sha256 else ModelVersion.Status.CORRUPT
    before = version.status
    version.status = status
    version.status_checked_at = timezone.now()
    version.save(update_fields=["status", "status_checked_at", "updated_at"])
    if before != status:
        audit_record(
            action="model_version.artifact_check",
            obj=version,
            changes={"status": {"before": before, "after": status}},
        )
    return version
