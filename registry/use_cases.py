"""Use cases: the business purpose a model serves, and its owner (services)."""

from django.db import transaction

from audit.services import audit_record, diff, snapshot
from core.errors import Conflict
from core.refusals import refusals_audited

from . import access
from .models import UseCase
from .writing import save_unique, validate

USE_CASE_FIELDS = ["name", "purpose", "business_unit", "owner_id", "automated_decisions", "human_review_route"]


@refusals_audited("use_case.create")
@transaction.atomic
def use_case_create(*, actor, name: str, purpose: str = "", business_unit: str = "", owner=None,
                    automated_decisions: bool = False, human_review_route: str = "") -> UseCase:
    access.require(access.use_case_can_create(actor), "Only data scientists, risk officers and admins create use cases.")
    use_case = UseCase(name=name, purpose=purpose, business_unit=business_unit, owner=owner or actor,
                       automated_decisions=automated_decisions, human_review_route=human_review_route)
    validate(use_case)
    save_unique(use_case, conflict_field="name", message="A use case with this name already exists.")
    audit_record(action="use_case.create", actor=actor, obj=use_case, changes=diff({}, snapshot(use_case, USE_CASE_FIELDS)))
    return use_case


@refusals_audited("use_case.update")
@transaction.atomic
def use_case_update(*, actor, use_case: UseCase, **fields) -> UseCase:
    access.require(access.use_case_can_write(actor, use_case), "You may not change this use case.")
    if use_case.automated_decisions and fields.get("automated_decisions") is False:
        # The flag routes objections to human review; its owner may raise it, not lower it.
        access.require(access.use_case_can_clear_automated(actor),
                       "Only risk officers and admins say a use case no longer makes automated decisions.")
    before = snapshot(use_case, USE_CASE_FIELDS)
    for key, value in fields.items():
        setattr(use_case, key, value)
    validate(use_case)
    save_unique(use_case, conflict_field="name", message="A use case with this name already exists.")
    changes = diff(before, snapshot(use_case, USE_CASE_FIELDS))
    if changes:
        audit_record(action="use_case.update", actor=actor, obj=use_case, changes=changes)
    return use_case


@refusals_audited("use_case.delete")
@transaction.atomic
def use_case_delete(*, actor, use_case: UseCase) -> None:
    access.require(access.use_case_can_write(actor, use_case), "You may not delete this use case.")
    if use_case.models.exists():
        raise Conflict("This use case still has models; move or delete them first.")
    audit_record(action="use_case.delete", actor=actor, obj=use_case, changes=diff(snapshot(use_case, USE_CASE_FIELDS), {}))
    use_case.delete()
