"""The wire shape: Steward's rows as MLflow's `RegisteredModel` and `ModelVersion` messages, and
the instances the writing handlers hand to services."""

from collections import defaultdict

from registry.models import ModelVersion, RegisteredModel, Stage

from .. import selectors
from .base import not_found_model, not_found_version, version_number

STEWARD_TO_MLFLOW_STAGE = {
    Stage.DEVELOPMENT: "None", Stage.QA: "None", Stage.PREPRODUCTION: "Staging",
    Stage.PRODUCTION: "Production", Stage.ARCHIVED: "Archived",
}
MLFLOW_STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
STATUS = {
    ModelVersion.Status.PENDING: "PENDING_REGISTRATION", ModelVersion.Status.CORRUPT: "FAILED_REGISTRATION",
    ModelVersion.Status.VERIFIED: "READY", ModelVersion.Status.REFERENCED: "READY",
}
STATUS_MESSAGE = {
    ModelVersion.Status.PENDING: "Steward is checking the artifact's SHA-256.",
    ModelVersion.Status.CORRUPT: "The stored artifact does not match its SHA-256.",
}


def download_uri(version, model_name: str) -> str:
    if version.artifact:
        return f"mlflow-artifacts:/steward/{model_name}/{version.number}"
    return version.artifact_uri


def version_dict(v: selectors.VersionRow, *, tags=None, aliases=None) -> dict:
    out = {
        "name": v.model_name,
        "version": str(v.number),
        "creation_timestamp": v.created_ms,
        "last_updated_timestamp": v.updated_ms,
        "user_id": v.username,
        "current_stage": STEWARD_TO_MLFLOW_STAGE[v.stage],
        "description": v.description,
        "source": download_uri(v, v.model_name),
        "run_id": v.training_run,
        "status": STATUS[v.status],
    }
    if v.status in STATUS_MESSAGE:
        out["status_message"] = STATUS_MESSAGE[v.status]
    if tags is not None:
        out["tags"] = tags
    if aliases is not None:
        out["aliases"] = aliases
    return out


def versions_payload(versions: list[selectors.VersionRow]) -> list[dict]:
    """Versions as MLflow dicts with their tags and aliases, in a fixed number of queries."""
    ids = [v.id for v in versions]
    tags, aliases, protected = selectors.version_extras(ids)
    holders = selectors.protected_holders(versions, protected)
    return [
        version_dict(v, tags=tags[v.id], aliases=sorted({a for a, _ in aliases[v.id]} | set(holders[v.id])))
        for v in versions
    ]


def models_payload(models: list[selectors.ModelRow], newest: list[selectors.VersionRow] | None = None) -> list[dict]:
    """Registered models with tags, aliases and the latest version per MLflow stage (`newest`:
    their `selectors.newest_per_stage` when the caller has it already)."""
    ids = [m.id for m in models]
    tags, free, protected_map = selectors.model_extras(ids)
    aliases = defaultdict(list)
    for model_id, pairs in free.items():
        aliases[model_id] = [{"alias": alias, "version": number} for alias, number in pairs]
    protected = defaultdict(list)
    for alias, stage in protected_map.items():
        protected[stage].append(alias)
    latest: dict[int, dict[str, selectors.VersionRow]] = defaultdict(dict)
    newest_in_stage = {}
    for v in selectors.newest_per_stage(ids) if newest is None else newest:
        latest[v.model_id].setdefault(STEWARD_TO_MLFLOW_STAGE[v.stage], v)
        newest_in_stage.setdefault((v.model_id, v.stage), v)
    for (model_id, stage), v in newest_in_stage.items():
        for alias in protected.get(stage, []):
            aliases[model_id].append({"alias": alias, "version": str(v.number)})
    return [
        {
            "name": m.name,
            "creation_timestamp": m.created_ms,
            "last_updated_timestamp": m.updated_ms,
            "user_id": m.username,
            "description": m.description,
            "latest_versions": [version_dict(v) for v in sorted(latest[m.id].values(), key=lambda v: v.number)],
            "tags": tags[m.id],
            "aliases": sorted(aliases[m.id], key=lambda a: a["alias"]),
        }
        for m in models
    ]


def model_instance(name: str) -> RegisteredModel:
    """The model instance, for the services that change it."""
    model = RegisteredModel.objects.select_related("owner", "use_case").filter(name=name).first()
    if model is None:
        raise not_found_model(name)
    return model


def version_instance(name: str, number) -> ModelVersion:
    number = version_number(number)
    version = (
        ModelVersion.objects.select_related("model__use_case", "created_by")
        .filter(model__name=name, number=number).first()
    )
    if version is None:
        raise not_found_version(name, number)
    return version


def one_model(name: str) -> dict:
    row, newest = selectors.model_with_newest(name)
    if row is None:
        raise not_found_model(name)
    return models_payload([row], newest)[0]


def one_version(name: str, number) -> dict:
    number = version_number(number)
    row = selectors.version_get(name, number)
    if row is None:
        raise not_found_version(name, number)
    return versions_payload([row])[0]

