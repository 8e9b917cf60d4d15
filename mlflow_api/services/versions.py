"""Model versions through MLflow: registration from an MLflow `source` (a staged upload or a
reference with its SHA-256), MLflow's key/value tags on versions, and deletion while governance
has no record of the version."""

import os
import re

from django.core.files import File
from django.db import transaction

from audit.services import audit_record
from core.errors import Forbidden, InvalidInput
from registry import services as registry
from registry.models import Dataset, ModelVersion, RegisteredModel, Stage

from ..access import require_write
from ..models import StagedArtifact, VersionTag
from .artifacts import source_path, zip_of
from .tags import check_tag, tag_delete, tag_set

# Tags with these keys feed Steward fields when a version is created.
TAG_SHA256 = "steward.sha256"
TAG_SIZE = "steward.size"
TAG_TRAINING_DATASETS = "steward.training_datasets"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_GIT_REPO = "mlflow.source.git.repoURL"


def _datasets(spec: str) -> list[Dataset]:
    found = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        name, _, version = item.partition("@")
        dataset = Dataset.objects.filter(name=name, version=version).first()
        if dataset is None:
            raise InvalidInput("Unknown dataset.", fields={TAG_TRAINING_DATASETS: [f"No dataset {item!r} (name@version)."]})
        found.append(dataset)
    return found


def version_create(
    *, actor, model: RegisteredModel, source: str, run_id: str = "", run_link: str = "",
    description: str = "", tags: dict | None = None,
) -> ModelVersion:
    """Register a Steward version from an MLflow `source`.

    `mlflow-artifacts:/<path>` names bytes uploaded through Steward's artifact proxy: they become
    the version's stored artifact (hashed, then re-checked by the background job). Any other URI
    is a reference whose SHA-256 the client gives in the `steward.sha256` tag.
    """
    tags = tags or {}
    for key, value in tags.items():
        check_tag(key, value)
    require_write(actor, model)
    if not source:
        raise InvalidInput("Missing source.", fields={"source": ["Required."]})
    lineage = {
        "description": description or "",
        "training_run": (run_id or run_link or "")[:500],
        "code_repository": (tags.get(TAG_GIT_REPO) or "")[:500],
        "training_datasets": _datasets(tags.get(TAG_TRAINING_DATASETS, "")),
    }
    commit = tags.get(TAG_GIT_COMMIT) or ""
    if re.fullmatch(r"[0-9a-fA-F]{7,64}", commit):
        lineage["code_commit"] = commit.lower()
    path = source_path(source)
    with transaction.atomic():
        if path is not None:
            version = _register_staged(actor=actor, model=model, path=path, lineage=lineage)
        else:
            sha256 = (tags.get(TAG_SHA256) or "").lower()
            if not re.fullmatch(r"[0-9a-f]{64}", sha256):
                raise InvalidInput(
                    "Steward checks every artifact: upload it through the artifact proxy (source "
                    "'mlflow-artifacts:/…') or give its SHA-256 in the 'steward.sha256' tag.",
                    fields={"source": [f"Cannot verify {source!r} without a SHA-256."]},
                )
            size = tags.get(TAG_SIZE)
            version = registry.model_version_register(
                actor=actor, model=model, artifact_uri=source[:1000], sha256=sha256,
                size=int(size) if size and size.isdigit() else None, **lineage,
            )
        for key, value in tags.items():
            VersionTag.objects.create(version=version, key=key, value=value or "")
        audit_record(action="mlflow.version.create", actor=actor, obj=version,
                     changes={"source": {"before": None, "after": source}, "run_id": {"before": None, "after": run_id},
                              "tags": {"before": None, "after": tags}})
    return version


def _register_staged(*, actor, model, path: str, lineage: dict) -> ModelVersion:
    staged = StagedArtifact.objects.filter(path=path).first()
    if staged is not None:
        with staged.file.open("rb") as fh:
            upload = File(fh, name=os.path.basename(path))
            upload.sha256 = staged.sha256  # computed while the bytes arrived; re-checked by the job
            return registry.model_version_register(actor=actor, model=model, artifact=upload, **lineage)
    files = list(StagedArtifact.objects.filter(path__startswith=path + "/"))
    if not files:
        raise InvalidInput("Nothing uploaded there.", fields={"source": [f"No artifact at 'mlflow-artifacts:/{path}'."]})
    with zip_of(files, path) as tmp:
        upload = File(tmp, name=f"{os.path.basename(path)}.zip")
        return registry.model_version_register(actor=actor, model=model, artifact=upload, **lineage)


@transaction.atomic
def version_tag_set(*, actor, version: ModelVersion, key: str, value: str) -> VersionTag:
    require_write(actor, version.model)
    return tag_set(actor=actor, tags=version.mlflow_tags, obj=version, key=key, value=value,
                   action="mlflow.version_tag.set")


@transaction.atomic
def version_tag_delete(*, actor, version: ModelVersion, key: str) -> None:
    require_write(actor, version.model)
    tag_delete(actor=actor, tags=version.mlflow_tags, obj=version, key=key, action="mlflow.version_tag.delete",
               missing=f"No tag with key {key!r} on {version}.")


@transaction.atomic
def version_delete(*, actor, version: ModelVersion) -> None:
    """Only a version that never left development and was never put up for promotion may go:
    anything governance has looked at stays, for its record."""
    require_write(actor, version.model)
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if version.stage != Stage.DEVELOPMENT or version.promotions.exists():
        raise Forbidden(f"{version} has a governance record (stage {version.stage}, promotion requests); archive it instead.")
    audit_record(action="model_version.delete", actor=actor, obj=version,
                 changes={"model": {"before": version.model.name, "after": None},
                          "number": {"before": version.number, "after": None},
                          "sha256": {"before": version.sha256, "after": None}})
    if version.artifact:
        storage, name = version.artifact.storage, version.artifact.name
        transaction.on_commit(lambda: storage.delete(name))
    version.delete()

