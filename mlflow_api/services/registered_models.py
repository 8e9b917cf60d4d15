"""Registered models through MLflow: creation (with the use case they belong to) and MLflow's
key/value tags on them."""

from django.db import transaction

from audit.services import audit_record
from core.errors import Conflict, InvalidInput
from registry import services as registry
from registry.models import RegisteredModel, UseCase

from ..access import require_write
from ..models import ModelTag
from .tags import check_tag, tag_delete, tag_set

# The tag naming the use case of a model created through MLflow (id or name).
TAG_USE_CASE = "steward.use_case"


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
        check_tag(key, value)
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
    require_write(actor, model)
    return tag_set(actor=actor, tags=model.mlflow_tags, obj=model, key=key, value=value, action="mlflow.model_tag.set")


@transaction.atomic
def model_tag_delete(*, actor, model: RegisteredModel, key: str) -> None:
    require_write(actor, model)
    tag_delete(actor=actor, tags=model.mlflow_tags, obj=model, key=key, action="mlflow.model_tag.delete",
               missing=f"No tag with key {key!r} on registered model {model.name!r}.")

