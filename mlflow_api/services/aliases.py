"""Aliases and stages: the governed moves. A free alias is moved at once; a protected alias
(`champion`, `production`, or one a risk officer marks) and a stage transition are promotions,
taken one stage at a time through governance's services (docs/mlflow.md)."""

import re

from django.db import transaction

from audit.services import audit_record
from core.errors import Forbidden, InvalidInput, NotFound
from governance import access as governance_access
from governance.checklist import promotion_checklist
from governance.models import PromotionRequest
from governance.promotions import promotion_complete, promotion_request
from registry import access as registry_access
from registry.models import STAGE_ORDER, ModelVersion, RegisteredModel, Stage

from ..access import require_write
from ..models import Alias, ProtectedAlias

ALIAS_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# MLflow's stage names → the Steward stage a transition aims at.
MLFLOW_STAGE_TARGET = {"staging": Stage.PREPRODUCTION, "production": Stage.PRODUCTION, "archived": Stage.ARCHIVED}


class PromotionPending(Forbidden):
    """A governed move was asked for and is waiting for sign-off (or other gates)."""

    def __init__(self, message, *, promotion: PromotionRequest, missing: list[str]):
        super().__init__(message, fields={"promotion": [promotion.pk], "missing_gates": missing})
        self.promotion = promotion
        self.missing = missing


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
    require_write(actor, model)
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
    require_write(actor, model)
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

