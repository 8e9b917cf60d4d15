"""What the MLflow protocol changes, as services: each checks permission, changes state in one
transaction and writes its audit event. Inventory and governance changes go through registry's
and governance's own services; this module only adds what MLflow has and Steward lacks (tags
with values, aliases, staged uploads) and the mapping of aliases/stages onto promotions.
"""

import hashlib
import os
import re
import tempfile
import zipfile

from django.core.files import File
from django.db import transaction

from audit.services import audit_record
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from governance import access as governance_access
from governance.checklist import promotion_checklist
from governance.models import PromotionRequest
from governance.promotions import promotion_complete, promotion_request
from registry import access as registry_access
from registry import services as registry
from registry.models import STAGE_ORDER, Dataset, ModelVersion, RegisteredModel, Stage, UseCase

from .models import Alias, ModelTag, ProtectedAlias, StagedArtifact, VersionTag

# Tags with these keys feed Steward fields when a version is created.
TAG_USE_CASE = "steward.use_case"
TAG_SHA256 = "steward.sha256"
TAG_SIZE = "steward.size"
TAG_TRAINING_DATASETS = "steward.training_datasets"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_GIT_REPO = "mlflow.source.git.repoURL"

MAX_TAG_KEY = 250
MAX_TAG_VALUE = 5000
ALIAS_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# MLflow's stage names → the Steward stage a transition aims at.
MLFLOW_STAGE_TARGET = {"staging": Stage.PREPRODUCTION, "production": Stage.PRODUCTION, "archived": Stage.ARCHIVED}


class PromotionPending(Forbidden):
    """A governed move was asked for and is waiting for sign-off (or other gates)."""

    def __init__(self, message, *, promotion: PromotionRequest, missing: list[str]):
        super().__init__(message, fields={"promotion": [promotion.pk], "missing_gates": missing})
        self.promotion = promotion
        self.missing = missing


def _require_write(actor, model: RegisteredModel) -> None:
    registry_access.require(
        registry_access.model_can_write(actor, model), "You may change only models you own or of your use cases."
    )


def _check_tag(key: str, value: str) -> None:
    errors = {}
    if not key or len(key) > MAX_TAG_KEY:
        errors["key"] = [f"A tag key has 1–{MAX_TAG_KEY} characters."]
    if value is not None and len(value) > MAX_TAG_VALUE:
        errors["value"] = [f"A tag value has at most {MAX_TAG_VALUE} characters."]
    if errors:
        raise InvalidInput("Invalid tag.", fields=errors)


# --- registered models -------------------------------------------------------------------


def use_case_for(*, actor, tags: dict) -> UseCase:
    """The use case a model created through MLflow belongs to: the `steward.use_case` tag (id or
    name), else the caller's own "MLflow (<username>)" use case, created on first use."""
    wanted = (tags.get(TAG_USE_CASE) or "").strip()
    if wanted:
        found = UseCase.objects.filter(pk=int(wanted)).first() if wanted.isdigit() else None
        found = found or UseCase.objects.filter(name=wanted).first()
        if found is None:
            raise InvalidInput("Unknown use case.", fields={TAG_USE_CASE: [f"No use case {wanted!r}."]})
        return found
    name = f"MLflow ({actor.get_username()})"
    existing = UseCase.objects.filter(name=name).first()
    if existing is not None:
        return existing
    return registry.use_case_create(
        actor=actor, name=name, purpose="Models registered through the MLflow client; move them to their real use case."
    )


@transaction.atomic
def model_create(*, actor, name: str, description: str = "", tags: dict | None = None) -> RegisteredModel:
    tags = tags or {}
    for key, value in tags.items():
        _check_tag(key, value)
    if RegisteredModel.objects.filter(name=name).exists():
        raise Conflict(f"Registered Model (name={name}) already exists.", code="already_exists")
    use_case = use_case_for(actor=actor, tags=tags)
    model = registry.model_create(actor=actor, name=name, use_case=use_case, description=description or "")
    for key, value in tags.items():
        ModelTag.objects.create(model=model, key=key, value=value or "")
    if tags:
        audit_record(action="mlflow.model_tag.set", actor=actor, obj=model,
                     changes={"tags": {"before": None, "after": tags}})
    return model


@transaction.atomic
def model_tag_set(*, actor, model: RegisteredModel, key: str, value: str) -> ModelTag:
    _require_write(actor, model)
    _check_tag(key, value)
    tag = ModelTag.objects.select_for_update().filter(model=model, key=key).first()
    before = tag.value if tag else None
    if tag is None:
        tag = ModelTag.objects.create(model=model, key=key, value=value or "")
    elif tag.value != value:
        tag.value = value or ""
        tag.save(update_fields=["value"])
    if before != tag.value:
        audit_record(action="mlflow.model_tag.set", actor=actor, obj=model,
                     changes={f"tag:{key}": {"before": before, "after": tag.value}})
    return tag


@transaction.atomic
def model_tag_delete(*, actor, model: RegisteredModel, key: str) -> None:
    _require_write(actor, model)
    tag = ModelTag.objects.filter(model=model, key=key).first()
    if tag is None:
        raise NotFound(f"No tag with key {key!r} on registered model {model.name!r}.")
    audit_record(action="mlflow.model_tag.delete", actor=actor, obj=model,
                 changes={f"tag:{key}": {"before": tag.value, "after": None}})
    tag.delete()


# --- staged artifacts (the mlflow-artifacts proxy) ------------------------------------------


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


def _source_path(source: str) -> str | None:
    """`mlflow-artifacts:/a/b` or `mlflow-artifacts://host/a/b` → `a/b`; None for other schemes."""
    if not source.startswith("mlflow-artifacts:"):
        return None
    rest = source[len("mlflow-artifacts:"):]
    if rest.startswith("//"):
        rest = rest[2:].partition("/")[2]
    return "/".join(p for p in rest.split("/") if p)


def _zip_of(staged: list[StagedArtifact], root: str):
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


# --- model versions ------------------------------------------------------------------------


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
        _check_tag(key, value)
    _require_write(actor, model)
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
    path = _source_path(source)
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
    with _zip_of(files, path) as tmp:
        upload = File(tmp, name=f"{os.path.basename(path)}.zip")
        return registry.model_version_register(actor=actor, model=model, artifact=upload, **lineage)


@transaction.atomic
def version_tag_set(*, actor, version: ModelVersion, key: str, value: str) -> VersionTag:
    _require_write(actor, version.model)
    _check_tag(key, value)
    tag = VersionTag.objects.select_for_update().filter(version=version, key=key).first()
    before = tag.value if tag else None
    if tag is None:
        tag = VersionTag.objects.create(version=version, key=key, value=value or "")
    elif tag.value != value:
        tag.value = value or ""
        tag.save(update_fields=["value"])
    if before != tag.value:
        audit_record(action="mlflow.version_tag.set", actor=actor, obj=version,
                     changes={f"tag:{key}": {"before": before, "after": tag.value}})
    return tag


@transaction.atomic
def version_tag_delete(*, actor, version: ModelVersion, key: str) -> None:
    _require_write(actor, version.model)
    tag = VersionTag.objects.filter(version=version, key=key).first()
    if tag is None:
        raise NotFound(f"No tag with key {key!r} on {version}.")
    audit_record(action="mlflow.version_tag.delete", actor=actor, obj=version,
                 changes={f"tag:{key}": {"before": tag.value, "after": None}})
    tag.delete()


@transaction.atomic
def version_delete(*, actor, version: ModelVersion) -> None:
    """Only a version that never left development and was never put up for promotion may go:
    anything governance has looked at stays, for its record."""
    _require_write(actor, version.model)
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


# --- aliases and stages: the governed moves --------------------------------------------------


# Always protected, whatever the table says (a flushed or edited table cannot un-govern them).
BUILTIN_PROTECTED = {"champion": Stage.PRODUCTION, "production": Stage.PRODUCTION}


def protected_alias_map() -> dict[str, str]:
    return {**dict(ProtectedAlias.objects.values_list("alias", "stage")), **BUILTIN_PROTECTED}


def _missing(promotion: PromotionRequest) -> list[str]:
    return [item["label"] for item in promotion_checklist(promotion=promotion) if not item["met"]]


def move_towards(*, actor, version: ModelVersion, stage: str, why: str) -> ModelVersion:
    """Bring `version` to `stage` through governance, one stage at a time.

    For each step: an active promotion request whose gates are all met is completed (the
    previous production version is archived in the same transaction); otherwise a request is
    opened (or the open one reused) and `PromotionPending` names it and its missing gates.
    Requests opened here commit even though the caller is refused: they are the point.
    """
    if not registry_access.model_can_write(actor, version.model):
        raise Forbidden("Only the model's data scientists ask for its promotions.")
    while True:
        version.refresh_from_db(fields=["stage"])
        current = version.stage
        if current == stage:
            return version
        if current == Stage.ARCHIVED:
            raise InvalidInput(f"{version} is archived; archived versions stay archived.", fields={"stage": [current]})
        if stage == Stage.ARCHIVED:
            target = Stage.ARCHIVED
        elif STAGE_ORDER.index(current) > STAGE_ORDER.index(stage):
            raise InvalidInput(f"{version} is in {current}, past {stage}; stages are not reversed.", fields={"stage": [current]})
        else:
            target = STAGE_ORDER[STAGE_ORDER.index(current) + 1]
        promotion = (
            PromotionRequest.objects.filter(version=version, target_stage=target, status__in=PromotionRequest.ACTIVE)
            .order_by("-pk").first()
        )
        if promotion is None:
            promotion = promotion_request(actor=actor, version=version, target_stage=target, reason=why)
        missing = _missing(promotion)
        if missing:
            step = "" if target == stage else f" (the step to {target}, on the way to {stage})"
            raise PromotionPending(
                f"Governed move: promotion request #{promotion.pk} to move {version} to {target}{step} "
                f"waits for: {'; '.join(missing)}. Sign-offs happen in Steward (/promotions/{promotion.pk}/).",
                promotion=promotion, missing=missing,
            )
        promotion_complete(promotion=promotion, actor=actor)


def alias_resolve(*, model: RegisteredModel, alias: str) -> ModelVersion:
    stage = protected_alias_map().get(alias)
    if stage is not None:
        version = model.versions.filter(stage=stage).order_by("-number").first()
    else:
        row = Alias.objects.select_related("version").filter(model=model, alias=alias).first()
        version = row.version if row else None
    if version is None:
        raise NotFound(f"Registered model alias {alias} not found.")
    return version


def alias_set(*, actor, model: RegisteredModel, alias: str, version: ModelVersion) -> None:
    """Point `alias` at `version`. A protected alias is a promotion to its stage (see
    `move_towards`); a free alias is just moved."""
    _require_write(actor, model)
    if not ALIAS_RE.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise InvalidInput("Invalid alias.", fields={"alias": [
            "1–100 letters, digits, '_', '-' or '.'; not 'latest' and not of the form 'v<number>'."]})
    stage = protected_alias_map().get(alias)
    if stage is None:
        _free_alias_set(actor=actor, model=model, alias=alias, version=version)
        return
    newest = model.versions.filter(stage=stage).order_by("-number").first()
    if version.stage == stage and newest is not None and newest.pk != version.pk:
        raise InvalidInput(f"'{alias}' names the newest version in {stage}, which is v{newest.number}.",
                           fields={"alias": [f"v{version.number} is in {stage} but not the newest there."]})
    move_towards(actor=actor, version=version, stage=stage, why=f"MLflow: alias '{alias}' set on v{version.number}")


@transaction.atomic
def _free_alias_set(*, actor, model, alias, version) -> None:
    row = Alias.objects.select_for_update().filter(model=model, alias=alias).first()
    before = row.version.number if row else None
    if row is None:
        Alias.objects.create(model=model, alias=alias, version=version)
    elif row.version_id != version.pk:
        row.version = version
        row.save(update_fields=["version"])
    if before != version.number:
        audit_record(action="mlflow.alias.set", actor=actor, obj=model,
                     changes={f"alias:{alias}": {"before": before, "after": version.number}})


@transaction.atomic
def alias_delete(*, actor, model: RegisteredModel, alias: str) -> None:
    _require_write(actor, model)
    if alias in protected_alias_map():
        raise Forbidden(f"'{alias}' is protected: it follows the stage it names. Archive the version through a promotion request.")
    row = Alias.objects.select_related("version").filter(model=model, alias=alias).first()
    if row is None:
        raise NotFound(f"Registered model alias {alias} not found.")
    audit_record(action="mlflow.alias.delete", actor=actor, obj=model,
                 changes={f"alias:{alias}": {"before": row.version.number, "after": None}})
    row.delete()


@transaction.atomic
def protected_alias_set(*, actor, alias: str, stage: str) -> ProtectedAlias:
    """Risk officers decide which aliases are governed, and the stage each one names."""
    if not governance_access.can_edit_policy(actor):
        raise Forbidden("Only risk officers decide which aliases are protected.")
    if not ALIAS_RE.match(alias or ""):
        raise InvalidInput("Invalid alias.", fields={"alias": ["1–100 letters, digits, '_', '-' or '.'."]})
    if alias in BUILTIN_PROTECTED:
        raise InvalidInput("Built in.", fields={"alias": [f"'{alias}' always names production."]})
    if stage not in Stage.values or stage == Stage.DEVELOPMENT:
        raise InvalidInput("Invalid stage.", fields={"stage": ["A governed stage: qa, preproduction, production, archived."]})
    row, created = ProtectedAlias.objects.get_or_create(alias=alias, defaults={"stage": stage, "created_by": actor})
    before = None if created else row.stage
    if not created and row.stage != stage:
        row.stage = stage
        row.save(update_fields=["stage"])
    if before != stage:
        audit_record(action="mlflow.protected_alias.set", actor=actor, obj=row,
                     changes={"stage": {"before": before, "after": stage}})
    return row


@transaction.atomic
def protected_alias_delete(*, actor, alias: str) -> None:
    if not governance_access.can_edit_policy(actor):
        raise Forbidden("Only risk officers decide which aliases are protected.")
    row = ProtectedAlias.objects.filter(alias=alias).first()
    if row is None:
        raise NotFound(f"No protected alias {alias!r}.")
    audit_record(action="mlflow.protected_alias.delete", actor=actor, obj=row,
                 changes={"stage": {"before": row.stage, "after": None}})
    row.delete()


def stage_transition(*, actor, version: ModelVersion, stage: str) -> ModelVersion:
    target = MLFLOW_STAGE_TARGET.get((stage or "").lower())
    if target is None:
        raise InvalidInput("Invalid stage.", fields={"stage": [
            f"{stage!r}: one of Staging, Production, Archived (Steward never moves a version back to None)."]})
    return move_towards(actor=actor, version=version, stage=target, why=f"MLflow: transition to {stage}")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
