"""A use case's RACI matrix: who is Responsible, Accountable, Consulted and Informed for each
task, and which people fill each RACI role. The Accountable person for a move's task can be
asked to approve it (`approvals`); so a change of who approves moves, made by anyone but an
independent risk officer, is a proposal.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q

from audit.services import audit_record, diff
from core.errors import Forbidden, InvalidInput
from core.refusals import refusals_audited
from registry.models import Proposal, UseCase

from . import access, approvals, defaults
from .models import RaciMatrix
from .proposals import proposal_create, proposals_supersede
from .selectors import raci_for
from .shapes import RaciAssignmentsShape, RaciCellsShape, errors_of


def _resolve(assignments: dict[str, list[str]], errors: dict) -> dict[str, list[int]]:
    """{role: [user ids]} for {role: [usernames]}; unknown usernames are added to `errors`."""
    names = {n for people in assignments.values() for n in people}
    by_name = dict(get_user_model().objects.filter(username__in=names).values_list("username", "pk"))
    resolved = {}
    for role, people in assignments.items():
        if missing := [n for n in people if n not in by_name]:
            errors[f"assignments.{role}"] = [f"Unknown user(s): {', '.join(missing)}."]
        else:
            resolved[role] = sorted({by_name[n] for n in people})
    return resolved


def _approver_problems(cells: dict, assignments: dict[str, list[int]]) -> dict:
    """A RACI may make Accountable or Responsible for a task that approves moves only people
    whose role may approve (not auditors, not people without a role)."""
    approving = set(
        get_user_model().objects.filter(is_active=True)
        .filter(Q(groups__in=Group.objects.filter(name__in=approvals.APPROVING_ROLES)) | Q(is_superuser=True))
        .values_list("pk", flat=True)
    )
    names = {}
    errors = {}
    for task in set(defaults.STAGE_TASK.values()):
        for role, value in cells.get(task, {}).items():
            if not set(value.split("/")) & {"A", "R"}:
                continue
            bad = [pk for pk in assignments.get(role, []) if pk not in approving]
            if bad:
                if not names:
                    names = dict(get_user_model().objects.values_list("pk", "username"))
                who = ", ".join(sorted(names.get(pk, str(pk)) for pk in bad))
                errors.setdefault(f"assignments.{role}", [
                    f"{who} may not approve moves (auditor or no role), but this role is "
                    f"{value} for {defaults.RACI_TASKS[task]}."
                ])
    return errors


def _approvers_by_task(cells: dict, assignments: dict) -> dict:
    probe = RaciMatrix(cells=cells, assignments=assignments)
    return {task: (sorted(probe.people_for(task, {"A", "R"})), sorted(probe.people_for(task, {"A"})))
            for task in sorted(set(defaults.STAGE_TASK.values()))}


def raci_apply(*, raci: RaciMatrix, cells: dict, assignments: dict, actor, proposer=None) -> RaciMatrix:
    """Store validated cells and assignments and audit the change (naming the proposer of a
    confirmed proposal). Callers hold the rules: `raci_update`, `proposal_confirm`."""
    before = {"cells": raci.cells, "assignments": raci.assignments}
    raci.cells = cells
    raci.assignments = assignments
    raci.updated_by = actor
    raci.save()
    changes = diff(before, {"cells": raci.cells, "assignments": raci.assignments})
    if changes:
        if proposer is not None:
            changes["proposed_by"] = {"before": None, "after": proposer.get_username()}
        audit_record(action="raci.update", actor=actor, obj=raci.use_case, changes=changes)
    return raci


@refusals_audited("raci.update")
@transaction.atomic
def raci_update(*, actor, use_case: UseCase, cells: dict | None = None, assignments: dict | None = None) -> RaciMatrix | Proposal:
    """Replace the matrix and/or the people per RACI role (`assignments`: {role: [usernames]}).

    Four eyes: a change of who approves moves (the cells or people of the tasks that approve
    qa/preproduction, production and archive) made by anyone but a risk officer who does not
    own the use case is a proposal; the matrix in force holds until a risk officer confirms.
    Other changes apply at once."""
    if not access.can_edit_raci(actor, use_case):
        raise Forbidden("Only the use case's owner, risk officers and admins edit its RACI.")
    UseCase.objects.select_for_update().filter(pk=use_case.pk).first()
    raci = raci_for(use_case=use_case)
    if raci.pk:
        raci = RaciMatrix.objects.select_for_update().get(pk=raci.pk)
    errors = errors_of(RaciCellsShape, cells, path="cells") if cells is not None else {}
    resolved = raci.assignments
    if assignments is not None:
        shape_errors = errors_of(RaciAssignmentsShape, assignments, path="assignments")
        errors.update(shape_errors)
        well_formed = {} if "assignments" in shape_errors else {
            role: people for role, people in assignments.items() if f"assignments.{role}" not in shape_errors
        }
        resolved = _resolve(well_formed, errors)
    new_cells = cells if cells is not None else raci.cells
    if not errors:
        errors = _approver_problems(new_cells, resolved)
    if errors:
        raise InvalidInput("The RACI matrix is invalid.", fields=errors)
    approvers_change = _approvers_by_task(raci.cells, raci.assignments) != _approvers_by_task(new_cells, resolved)
    if approvers_change and not access.applies_directly(actor, use_case):
        tasks = ", ".join(defaults.RACI_TASKS[t] for t in sorted(set(defaults.STAGE_TASK.values())))
        return proposal_create(actor=actor, kind=Proposal.Kind.RACI, use_case=use_case,
                               payload={"cells": new_cells, "assignments": resolved},
                               summary=f"Change who approves moves ({tasks})")
    if approvers_change:
        proposals_supersede(kind=Proposal.Kind.RACI, use_case=use_case)
    return raci_apply(raci=raci, cells=new_cells, assignments=resolved, actor=actor)
