"""Inventory services: one function per state change, each atomic and audited."""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_record, diff, snapshot
from core.errors import Conflict, InvalidInput
from core.refusals import refusals_audited
from core.services import job_create, job_enqueue

from . import access
from .models import Dataset, ModelVersion, Proposal, RegisteredModel, Tag, UseCase

USE_CASE_FIELDS = ["name", "purpose", "business_unit", "owner_id", "automated_decisions", "human_review_route"]
# What a dataset's lineage links vouch for; frozen once a version references the dataset.
DATASET_EVIDENCE_FIELDS = [
    "name", "version", "source_uri", "owner_id", "sha256", "contains_personal_data", "legal_basis",
    "collection_method", "personal_data_categories", "derived_from",
]
DATASET_FIELDS = [
    "name", "version", "description", "source_uri", "owner_id", "sha256",
    "contains_personal_data", "legal_basis", "retention_until", "collection_method", "personal_data_categories",
]
MODEL_FIELDS = ["name", "description", "owner_id", "use_case_id"]
VERSION_FIELDS = [
    "number", "description", "artifact_uri", "artifact_filename", "sha256", "size", "framework",
    "input_signature", "code_repository", "code_commit", "training_run", "params", "metrics",
    "stage", "status",
]


def _validate(instance, exclude=None):
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput("Invalid input.", fields=exc.message_dict) from exc


def _save_unique(instance, *, conflict_field: str, message: str, **save_kwargs):
    """Save, turning a unique violation (a concurrent duplicate) into a 409 on `conflict_field`."""
    try:
        with transaction.atomic():
            instance.save(**save_kwargs)
    except IntegrityError as exc:
        raise Conflict(message, fields={conflict_field: [message]}) from exc


def _tags(names) -> list[Tag]:
    return [Tag.objects.get_or_create(name=n.strip().lower())[0] for n in names if n.strip()]


def _set_tags(obj, names) -> dict:
    before = sorted(obj.tags.values_list("name", flat=True)) if obj.pk else []
    tags = _tags(names)
    obj.tags.set(tags)
    after = sorted(t.name for t in tags)
    return {"tags": {"before": before, "after": after}} if before != after else {}


# --- use cases -----------------------------------------------------------------------------


@refusals_audited("use_case.create")
@transaction.atomic
def use_case_create(*, actor, name: str, purpose: str = "", business_unit: str = "", owner=None,
                    automated_decisions: bool = False, human_review_route: str = "") -> UseCase:
    access.require(access.use_case_can_create(actor), "Only data scientists, risk officers and admins create use cases.")
    use_case = UseCase(name=name, purpose=purpose, business_unit=business_unit, owner=owner or actor,
                       automated_decisions=automated_decisions, human_review_route=human_review_route)
    _validate(use_case)
    _save_unique(use_case, conflict_field="name", message="A use case with this name already exists.")
    audit_record(action="use_case.create", actor=actor, obj=use_case, changes=diff({}, snapshot(use_case, USE_CASE_FIELDS)))
    return use_case


@refusals_audited("use_case.update")
@transaction.atomic
def use_case_update(*, actor, use_case: UseCase, **fields) -> UseCase:
    access.require(access.use_case_can_write(actor, use_case), "You may not change this use case.")
    if use_case.automated_decisions and fields.get("automated_decisions") is False:
        # The flag routes objections to human review; its owner may raise it, not lower it.
        access.require(access.use_case_can_clear_automated(actor),
                       "Only risk officers and admins say a use case no longer makes automated decisions.")
    before = snapshot(use_case, USE_CASE_FIELDS)
    for key, value in fields.items():
        setattr(use_case, key, value)
    _validate(use_case)
    _save_unique(use_case, conflict_field="name", message="A use case with this name already exists.")
    changes = diff(before, snapshot(use_case, USE_CASE_FIELDS))
    if changes:
        audit_record(action="use_case.update", actor=actor, obj=use_case, changes=changes)
    return use_case


@refusals_audited("use_case.delete")
@transaction.atomic
def use_case_delete(*, actor, use_case: UseCase) -> None:
    access.require(access.use_case_can_write(actor, use_case), "You may not delete this use case.")
    if use_case.models.exists():
        raise Conflict("This use case still has models; move or delete them first.")
    audit_record(action="use_case.delete", actor=actor, obj=use_case, changes=diff(snapshot(use_case, USE_CASE_FIELDS), {}))
    use_case.delete()


# --- datasets ------------------------------------------------------------------------------


@refusals_audited("dataset.create")
@transaction.atomic
def dataset_create(*, actor, name: str, version: str, owner=None, derived_from=(), **fields) -> Dataset:
    access.require(access.can_register(actor), "Only data scientists and admins register datasets.")
    dataset = Dataset(name=name, version=version, owner=owner or actor, **fields)
    _validate(dataset)
    _save_unique(dataset, conflict_field="version", message=f"Dataset {name}@{version} already exists.")
    changes = diff({}, snapshot(dataset, DATASET_FIELDS))
    changes.update(_set_derived_from(dataset, derived_from))
    audit_record(action="dataset.create", actor=actor, obj=dataset, changes=changes)
    return dataset


def _set_derived_from(dataset: Dataset, parents) -> dict:
    """Link `dataset` to the datasets it derives from, refusing a cycle (400 on the field)."""
    from .lineage import would_cycle

    parents = list(parents)
    before = sorted(dataset.derived_from.values_list("pk", flat=True))
    after = sorted(p.pk for p in parents)
    if before == after:
        return {}
    if would_cycle(dataset.pk, after):
        raise InvalidInput("Invalid input.", fields={"derived_from": [
            f"{dataset} cannot derive from itself or from a dataset derived from it (a cycle)."]})
    dataset.derived_from.set(parents)
    return {"derived_from": {"before": before or None, "after": after}}


@refusals_audited("dataset.update")
@transaction.atomic
def dataset_update(*, actor, dataset: Dataset, derived_from=None, **fields) -> Dataset:
    access.require(access.dataset_can_write(actor, dataset), "You may change only datasets you own.")
    before = snapshot(dataset, DATASET_FIELDS)
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    frozen = [k for k in fields if k in DATASET_EVIDENCE_FIELDS or f"{k}_id" in DATASET_EVIDENCE_FIELDS]
    frozen = [k for k in frozen if getattr(dataset, k) != fields[k]]
    if derived_from is not None and sorted(p.pk for p in derived_from) != sorted(
            dataset.derived_from.values_list("pk", flat=True)):
        frozen.append("derived_from")
    referenced = dataset.trained_versions.exists() or dataset.validated_versions.exists()
    # A retention date of evidence may come earlier, never later: a later one would postpone
    # the retraining obligations its passing opens (privacy).
    later = fields.get("retention_until", dataset.retention_until)
    if dataset.retention_until and (later is None or later > dataset.retention_until):
        frozen.append("retention_until")
    if frozen and referenced:
        message = (f"{dataset} is evidence: model versions were trained or validated on it, so it is frozen. "
                   "Register the changed data as a new dataset version.")
        raise Conflict(message, fields={k: [message] for k in frozen}, code="dataset_frozen")
    for key, value in fields.items():
        setattr(dataset, key, value)
    _validate(dataset)
    _save_unique(dataset, conflict_field="version", message="A dataset with this name and version already exists.")
    changes = diff(before, snapshot(dataset, DATASET_FIELDS))
    if derived_from is not None:
        changes.update(_set_derived_from(dataset, derived_from))
    if changes:
        audit_record(action="dataset.update", actor=actor, obj=dataset, changes=changes)
        if {"sha256", "source_uri"} & set(changes):
            dataset_lineage_changed(dataset=dataset, actor=actor)
    return dataset


def dataset_lineage_changed(*, dataset: Dataset, actor) -> None:
    """Hook point: versions trained or validated on this dataset changed lineage (governance
    lapses approvals). Unreachable for referenced datasets today (they are frozen); kept so a
    future privileged correction still lapses what it touches."""
    from .signals import lineage_changed

    versions = {v.pk: v for v in [*dataset.trained_versions.all(), *dataset.validated_versions.all()]}
    for version in versions.values():
        lineage_changed.send(sender=ModelVersion, version=version, actor=actor, reason=f"dataset {dataset} changed")


@refusals_audited("dataset.delete")
@transaction.atomic
def dataset_delete(*, actor, dataset: Dataset) -> None:
    access.require(access.dataset_can_write(actor, dataset), "You may delete only datasets you own.")
    if dataset.trained_versions.exists() or dataset.validated_versions.exists():
        raise Conflict("Model versions were trained or validated on this dataset; it is part of their lineage.")
    audit_record(action="dataset.delete", actor=actor, obj=dataset, changes=diff(snapshot(dataset, DATASET_FIELDS), {}))
    dataset.delete()


# --- registered models ---------------------------------------------------------------------


@refusals_audited("model.create")
@transaction.atomic
def model_create(*, actor, name: str, use_case: UseCase, description: str = "", tags=(), owner=None) -> RegisteredModel:
    access.require(access.can_register(actor), "Only data scientists and admins register models.")
    access.require(access.use_case_can_attach(actor, use_case),
                   f"'{use_case}' is not your use case: register the model in one of yours, then propose moving it.")
    model = RegisteredModel(name=name, description=description, use_case=use_case, owner=owner or actor)
    _validate(model)
    _save_unique(model, conflict_field="name", message=f"A model named {name!r} already exists.")
    changes = diff({}, snapshot(model, MODEL_FIELDS))
    changes.update(_set_tags(model, tags))
    audit_record(action="model.create", actor=actor, obj=model, changes=changes)
    return model


@refusals_audited("model.update")
@transaction.atomic
def model_update(*, actor, model: RegisteredModel, tags=None, **fields) -> RegisteredModel:
    """Change a model. Moving it to another use case changes the tier it is governed at, so
    that part is a proposal a risk officer confirms (`model.pending_proposal` is set); the
    rest applies at once."""
    access.require(access.model_can_write(actor, model), "You may change only models you own or of your use cases.")
    model.pending_proposal = None
    target = fields.pop("use_case", None)
    if target is not None and target.pk != model.use_case_id:
        model.pending_proposal = _propose_move(actor=actor, model=model, target=target)
    fields.pop("use_case_id", None)
    before = snapshot(model, MODEL_FIELDS)
    for key, value in fields.items():
        setattr(model, key, value)
    _validate(model)
    _save_unique(model, conflict_field="name", message="A model with this name already exists.")
    changes = diff(before, snapshot(model, MODEL_FIELDS))
    if tags is not None:
        changes.update(_set_tags(model, tags))
    if changes:
        audit_record(action="model.update", actor=actor, obj=model, changes=changes)
    return model


def _propose_move(*, actor, model: RegisteredModel, target: UseCase) -> Proposal:
    from .signals import change_proposed

    Proposal.objects.filter(kind=Proposal.Kind.MODEL_MOVE, model=model, status=Proposal.Status.PENDING).update(
        status=Proposal.Status.SUPERSEDED, decided_at=timezone.now()
    )
    proposal = Proposal.objects.create(
        kind=Proposal.Kind.MODEL_MOVE, use_case=model.use_case, model=model, target_use_case=target,
        payload={"use_case": target.pk}, summary=f"Move {model.name} from {model.use_case} to {target}"[:500], proposed_by=actor,
    )
    audit_record(action="proposal.create", actor=actor, obj=proposal,
                 changes={"kind": {"before": None, "after": proposal.kind}, "summary": {"before": None, "after": proposal.summary},
                          "payload": {"before": None, "after": proposal.payload}})
    change_proposed.send(sender=Proposal, proposal=proposal)
    return proposal


@transaction.atomic
def model_move_apply(*, model: RegisteredModel, use_case: UseCase, actor, proposal: Proposal) -> RegisteredModel:
    """Move a model to another use case once a risk officer confirmed `proposal`. Only
    governance's `proposal_confirm` calls this (it holds the rule)."""
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    before = snapshot(model, MODEL_FIELDS)
    model.use_case = use_case
    model.save(update_fields=["use_case", "updated_at"])
    changes = diff(before, snapshot(model, MODEL_FIELDS))
    changes["proposal"] = {"before": None, "after": proposal.pk}
    changes["proposed_by"] = {"before": None, "after": proposal.proposed_by.get_username()}
    audit_record(action="model.update", actor=actor, obj=model, changes=changes)
    return model


@refusals_audited("model.delete")
@transaction.atomic
def model_delete(*, actor, model: RegisteredModel) -> None:
    access.require(access.model_can_write(actor, model), "You may delete only models you own or of your use cases.")
    if model.versions.exclude(stage="development").exists():
        raise Conflict("Versions of this model have left development; archive them instead of deleting.")
    audit_record(action="model.delete", actor=actor, obj=model, changes=diff(snapshot(model, MODEL_FIELDS), {}))
    for version in model.versions.all():
        if version.artifact:
            storage, name = version.artifact.storage, version.artifact.name
            transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))
    model.delete()


# --- model versions ------------------------------------------------------------------------


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
        from core.api import PayloadTooLarge

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
    _validate(version, exclude=["artifact", "model", "created_by"])
    if artifact is not None:
        version.artifact.save(artifact.name, artifact, save=False)
        stored = version.artifact.name
    try:
        version.save(force_insert=True)
    except Exception:
        if artifact is not None:
            version.artifact.storage.delete(stored)
        raise
    version.training_datasets.set(training_datasets)
    version.validation_datasets.set(validation_datasets)
    _set_tags(version, tags)
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
        changes.update(_set_tags(version, tags))
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
    from .tasks import artifact_verify

    job = job_create(kind="artifact_verify", actor=actor, obj=version, message="Artifact check queued")
    job_enqueue(job=job, task=artifact_verify)
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
