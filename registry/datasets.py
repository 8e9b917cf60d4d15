"""Datasets: registered data, their lineage (derived from), and the evidence they become once
a model version was trained or validated on them (services)."""

from django.db import transaction

from audit.services import audit_record, diff, snapshot
from core.errors import Conflict, InvalidInput
from core.refusals import refusals_audited

from . import access
from .lineage import would_cycle
from .models import Dataset, ModelVersion
from .signals import lineage_changed
from .writing import save_unique, validate

# What a dataset's lineage links vouch for; frozen once a version references the dataset.
DATASET_EVIDENCE_FIELDS = [
    "name", "version", "source_uri", "owner_id", "sha256", "contains_personal_data", "legal_basis",
    "collection_method", "personal_data_categories", "derived_from",
]
DATASET_FIELDS = [
    "name", "version", "description", "source_uri", "owner_id", "sha256",
    "contains_personal_data", "legal_basis", "retention_until", "collection_method", "personal_data_categories",
]


@refusals_audited("dataset.create")
@transaction.atomic
def dataset_create(*, actor, name: str, version: str, owner=None, derived_from=(), **fields) -> Dataset:
    access.require(access.can_register(actor), "Only data scientists and admins register datasets.")
    dataset = Dataset(name=name, version=version, owner=owner or actor, **fields)
    validate(dataset)
    save_unique(dataset, conflict_field="version", message=f"Dataset {name}@{version} already exists.")
    changes = diff({}, snapshot(dataset, DATASET_FIELDS))
    changes.update(_set_derived_from(dataset, derived_from))
    audit_record(action="dataset.create", actor=actor, obj=dataset, changes=changes)
    return dataset


def _set_derived_from(dataset: Dataset, parents) -> dict:
    """Link `dataset` to the datasets it derives from, refusing a cycle (400 on the field)."""
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
    validate(dataset)
    save_unique(dataset, conflict_field="version", message="A dataset with this name and version already exists.")
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

