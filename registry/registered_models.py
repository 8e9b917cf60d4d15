"""Registered models: create, change, delete; moving one to another use case is a proposal a
risk officer confirms (governance's `proposal_confirm` then calls `model_move_apply`)."""

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record, diff, snapshot
from core.errors import Conflict
from core.refusals import refusals_audited

from . import access
from .models import Proposal, RegisteredModel, UseCase
from .signals import change_proposed
from .writing import save_unique, set_tags, validate

MODEL_FIELDS = ["name", "description", "owner_id", "use_case_id"]


@refusals_audited("model.create")
@transaction.atomic
def model_create(*, actor, name: str, use_case: UseCase, description: str = "", tags=(), owner=None) -> RegisteredModel:
    access.require(access.can_register(actor), "Only data scientists and admins register models.")
    access.require(access.use_case_can_attach(actor, use_case),
                   f"'{use_case}' is not your use case: register the model in one of yours, then propose moving it.")
    model = RegisteredModel(name=name, description=description, use_case=use_case, owner=owner or actor)
    validate(model)
    save_unique(model, conflict_field="name", message=f"A model named {name!r} already exists.")
    changes = diff({}, snapshot(model, MODEL_FIELDS))
    changes.update(set_tags(model, tags))
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
    validate(model)
    save_unique(model, conflict_field="name", message="A model with this name already exists.")
    changes = diff(before, snapshot(model, MODEL_FIELDS))
    if tags is not None:
        changes.update(set_tags(model, tags))
    if changes:
        audit_record(action="model.update", actor=actor, obj=model, changes=changes)
    return model


def _propose_move(*, actor, model: RegisteredModel, target: UseCase) -> Proposal:
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
