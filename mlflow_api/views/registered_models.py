"""Handlers of `registered-models/…`: create, get, update, rename, delete, search, latest
versions, tags and aliases. Each takes (request, params) and returns the JSON object to answer."""

from registry import services as registry
from registry.models import RegisteredModel

from .. import search, selectors, services
from .base import MlflowError, page, tag_pairs
from .wire import (
    MLFLOW_STAGES,
    STEWARD_TO_MLFLOW_STAGE,
    model_instance,
    models_payload,
    one_model,
    one_version,
    version_instance,
    versions_payload,
)


def create_registered_model(request, p):
    name = p.required("name")
    services.model_create(actor=request.user, name=name, description=p.get("description", ""),
                          tags=tag_pairs(p.get("tags")))
    return {"registered_model": one_model(name)}


def get_registered_model(request, p):
    return {"registered_model": one_model(p.required("name"))}


def update_registered_model(request, p):
    model = model_instance(p.required("name"))
    if p.get("description") is not None:
        registry.model_update(actor=request.user, model=model, description=p.get("description"))
    return {"registered_model": one_model(model.name)}


def rename_registered_model(request, p):
    model = model_instance(p.required("name"))
    new_name = p.required("new_name")
    if new_name != model.name and RegisteredModel.objects.filter(name=new_name).exists():
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Registered Model (name={new_name}) already exists.", 400)
    registry.model_update(actor=request.user, model=model, name=new_name)
    return {"registered_model": one_model(new_name)}


def delete_registered_model(request, p):
    registry.model_delete(actor=request.user, model=model_instance(p.required("name")))
    return {}


MODEL_ORDER = {"name": "name", "timestamp": "updated_at", "last_updated_timestamp": "updated_at",
               "creation_timestamp": "created_at"}


def search_registered_models(request, p):
    q = search.model_filter(p.get("filter") or "")
    ordering = search.order_by(p.list("order_by"), MODEL_ORDER, ["name"])
    queryset = selectors.model_rows(RegisteredModel.objects.filter(q).order_by(*ordering))
    models, token = page(queryset, p, default=100, maximum=1000)
    body = {"registered_models": models_payload([selectors.ModelRow(*m) for m in models])}
    if token:
        body["next_page_token"] = token
    return body


def get_latest_versions(request, p):
    model = model_instance(p.required("name"))
    wanted = p.list("stages")
    stages = []
    for stage in wanted:
        if stage.lower() not in MLFLOW_STAGES:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid Model Version stage: {stage}.", 400)
        stages.append(MLFLOW_STAGES[stage.lower()])
    latest = {}
    for v in selectors.newest_per_stage([model.pk]):
        latest.setdefault(STEWARD_TO_MLFLOW_STAGE[v.stage], v)
    chosen = [latest[s] for s in (stages or latest) if s in latest]
    return {"model_versions": versions_payload(sorted(chosen, key=lambda v: v.number))}


def set_registered_model_tag(request, p):
    model = model_instance(p.required("name"))
    services.model_tag_set(actor=request.user, model=model, key=p.required("key"), value=str(p.get("value", "")))
    return {}


def delete_registered_model_tag(request, p):
    services.model_tag_delete(actor=request.user, model=model_instance(p.required("name")), key=p.required("key"))
    return {}


def set_registered_model_alias(request, p):
    model = model_instance(p.required("name"))
    version = version_instance(model.name, p.required("version"))
    services.alias_set(actor=request.user, model=model, alias=p.required("alias"), version=version)
    return {}


def delete_registered_model_alias(request, p):
    services.alias_delete(actor=request.user, model=model_instance(p.required("name")), alias=p.required("alias"))
    return {}


def get_model_version_by_alias(request, p):
    model = model_instance(p.required("name"))
    version = services.alias_resolve(model=model, alias=p.required("alias"))
    return {"model_version": one_version(model.name, version.number)}

