"""Handlers of `model-versions/…`: create, get, update, delete, transition stage, search,
download URI and tags."""

from registry import services as registry
from registry.models import ModelVersion

from .. import search, selectors, services
from .base import PageToken, page, tag_pairs
from .wire import download_uri, model_instance, one_version, version_instance, versions_payload

VERSION_ORDER = {"name": "model__name", "version_number": "number", "creation_timestamp": "created_at",
                 "timestamp": "updated_at", "last_updated_timestamp": "updated_at"}


def create_model_version(request, p):
    model = model_instance(p.required("name"))
    version = services.version_create(
        actor=request.user, model=model, source=p.required("source"), run_id=p.get("run_id") or "",
        run_link=p.get("run_link") or "", description=p.get("description") or "", tags=tag_pairs(p.get("tags")),
    )
    return {"model_version": one_version(model.name, version.number)}


def get_model_version(request, p):
    return {"model_version": one_version(p.required("name"), p.required("version"))}


def update_model_version(request, p):
    version = version_instance(p.required("name"), p.required("version"))
    if p.get("description") is not None:
        registry.model_version_update(actor=request.user, version=version, description=p.get("description"))
    return {"model_version": one_version(version.model.name, version.number)}


def delete_model_version(request, p):
    services.version_delete(actor=request.user, version=version_instance(p.required("name"), p.required("version")))
    return {}


def transition_model_version_stage(request, p):
    version = version_instance(p.required("name"), p.required("version"))
    services.stage_transition(actor=request.user, version=version, stage=p.required("stage"))
    return {"model_version": one_version(version.model.name, version.number)}


def search_model_versions(request, p):
    clauses = search.parse(p.get("filter") or "")
    if len(clauses) == 1 and clauses[0][:3] == ("attr", "name", "=") and not p.list("order_by"):
        # The client's usual question (all versions of one model): no ORM query to build.
        size = p.int("max_results", 10000, 200000)
        offset = PageToken.decode(p.get("page_token"))
        rows = selectors.versions_named(clauses[0][3], offset, size + 1)
        body = {"model_versions": versions_payload(rows[:size])}
        if len(rows) > size:
            body["next_page_token"] = PageToken.encode(offset + size)
        return body
    q = search.version_filter(p.get("filter") or "")
    ordering = search.order_by(p.list("order_by"), VERSION_ORDER, ["model__name", "-number"])
    queryset = selectors.version_rows(ModelVersion.objects.filter(q).order_by(*ordering))
    versions, token = page(queryset, p, default=10000, maximum=200000)
    body = {"model_versions": versions_payload([selectors.VersionRow(*v) for v in versions])}
    if token:
        body["next_page_token"] = token
    return body


def get_model_version_download_uri(request, p):
    version = version_instance(p.required("name"), p.required("version"))
    return {"artifact_uri": download_uri(version, version.model.name)}


def set_model_version_tag(request, p):
    version = version_instance(p.required("name"), p.required("version"))
    services.version_tag_set(actor=request.user, version=version, key=p.required("key"), value=str(p.get("value", "")))
    return {}


def delete_model_version_tag(request, p):
    version = version_instance(p.required("name"), p.required("version"))
    services.version_tag_delete(actor=request.user, version=version, key=p.required("key"))
    return {}

