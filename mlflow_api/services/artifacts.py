"""Staged uploads of the artifact proxy (`/api/2.0/mlflow-artifacts/`): files kept, write-once,
until a version names them as its `source`."""

import os
import tempfile
import zipfile

from django.db import transaction

from audit.services import audit_record
from core.errors import Conflict, InvalidInput
from registry import access as registry_access

from ..models import StagedArtifact


def clean_artifact_path(path: str) -> str:
    parts = [p for p in (path or "").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or len("/".join(parts)) > 500:
        raise InvalidInput("Invalid artifact path.", fields={"path": [f"{path!r} is not a relative path."]})
    if parts[0] == "steward":
        raise InvalidInput("Reserved path.", fields={"path": ["'steward/' holds registered versions; it is read-only."]})
    return "/".join(parts)


@transaction.atomic
def artifact_stage(*, actor, path: str, fileobj, sha256: str, size: int) -> StagedArtifact:
    """Keep an uploaded file until a version names it as `source`. Write-once per path."""
    registry_access.require(registry_access.can_register(actor), "Only data scientists and admins upload artifacts.")
    path = clean_artifact_path(path)
    if StagedArtifact.objects.filter(path=path).exists():
        raise Conflict(f"An artifact already exists at {path!r}; uploads are never overwritten.")
    staged = StagedArtifact(path=path, sha256=sha256, size=size, created_by=actor)
    staged.file.save(os.path.basename(path), fileobj, save=False)
    stored = staged.file.name
    try:
        with transaction.atomic():
            staged.save(force_insert=True)
    except Exception:
        staged.file.storage.delete(stored)
        raise Conflict(f"An artifact already exists at {path!r}; uploads are never overwritten.") from None
    audit_record(action="mlflow.artifact.stage", actor=actor, obj=staged,
                 changes={"path": {"before": None, "after": path}, "sha256": {"before": None, "after": sha256},
                          "size": {"before": None, "after": size}})
    return staged


def source_path(source: str) -> str | None:
    """`mlflow-artifacts:/a/b` or `mlflow-artifacts://host/a/b` → `a/b`; None for other schemes."""
    if not source.startswith("mlflow-artifacts:"):
        return None
    rest = source[len("mlflow-artifacts:"):]
    if rest.startswith("//"):
        rest = rest[2:].partition("/")[2]
    return "/".join(p for p in rest.split("/") if p)


def zip_of(staged: list[StagedArtifact], root: str):
    """A directory upload becomes one deterministic zip (sorted names, fixed timestamps), so the
    same files always give the same SHA-256."""
    tmp = tempfile.NamedTemporaryFile(suffix=".zip")  # noqa: SIM115 - closed by the caller
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for item in sorted(staged, key=lambda s: s.path):
            info = zipfile.ZipInfo(item.path[len(root) + 1:], date_time=(1980, 1, 1, 0, 0, 0))
            with item.file.open("rb") as fh:
                zf.writestr(info, fh.read())
    tmp.seek(0)
    return tmp

