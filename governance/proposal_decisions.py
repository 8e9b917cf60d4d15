"""Deciding a proposal: an independent risk officer confirms it (the change it holds takes effect
now) or rejects it; its author may withdraw it.
"""

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, Forbidden, InvalidInput
from core.refusals import refusals_audited
from registry.models import Proposal, UseCase
from registry.services import model_move_apply

from . import access
from .classification import classification_apply
from .models import RaciMatrix, ScoringScheme
from .raci import raci_apply
from .selectors import raci_for


def _lock_proposal(proposal: Proposal) -> Proposal:
    proposal = (Proposal.objects.select_for_update(of=("self",))
                .select_related("use_case", "model", "target_use_case", "proposed_by").get(pk=proposal.pk))
    if proposal.status != Proposal.Status.PENDING:
        raise Conflict(f"This proposal is {proposal.get_status_display().lower()}; it can no longer be decided.")
    return proposal


@refusals_audited("proposal.confirm")
@transaction.atomic
def proposal_confirm(*, actor, proposal: Proposal, comment: str = "") -> Proposal:
    """A risk officer other than the proposer confirms: the change takes effect now."""
    if not access.can_decide_proposal(actor, proposal):
        raise Forbidden("A risk officer other than the proposer, owning none of the use cases or models involved, confirms proposals.")
    UseCase.objects.select_for_update().filter(pk=proposal.use_case_id).first()
    proposal = _lock_proposal(proposal)
    if proposal.kind == Proposal.Kind.CLASSIFICATION:
        payload = proposal.payload
        scheme = ScoringScheme.objects.get(number=payload["scheme"])
        classification_apply(use_case=proposal.use_case, scheme=scheme, payload=payload, created_by=proposal.proposed_by,
                             confirmed_by=actor, audit_actor=actor)
    elif proposal.kind == Proposal.Kind.RACI:
        raci = raci_for(use_case=proposal.use_case)
        if raci.pk:
            raci = RaciMatrix.objects.select_for_update().get(pk=raci.pk)
        raci_apply(raci=raci, cells=proposal.payload["cells"], assignments=proposal.payload["assignments"],
                   actor=actor, proposer=proposal.proposed_by)
    else:
        model_move_apply(model=proposal.model, use_case=proposal.target_use_case, actor=actor, proposal=proposal)
    return _decide(proposal, actor, Proposal.Status.CONFIRMED, comment)


@refusals_audited("proposal.reject")
@transaction.atomic
def proposal_reject(*, actor, proposal: Proposal, comment: str) -> Proposal:
    if not access.can_decide_proposal(actor, proposal):
        raise Forbidden("A risk officer other than the proposer, owning none of the use cases or models involved, rejects proposals.")
    if not (comment or "").strip():
        raise InvalidInput("Say why you reject.", fields={"comment": ["A comment is required to reject."]})
    return _decide(_lock_proposal(proposal), actor, Proposal.Status.REJECTED, comment)


@refusals_audited("proposal.withdraw")
@transaction.atomic
def proposal_withdraw(*, actor, proposal: Proposal) -> Proposal:
    if not access.can_withdraw_proposal(actor, proposal):
        raise Forbidden("Only the proposer withdraws a proposal.")
    return _decide(_lock_proposal(proposal), actor, Proposal.Status.WITHDRAWN, "")


def _decide(proposal: Proposal, actor, status: str, comment: str) -> Proposal:
    proposal.status = status
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.comment = comment
    proposal.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    audit_record(action=f"proposal.{status.replace('confirmed', 'confirm').replace('rejected', 'reject').replace('withdrawn', 'withdraw')}",
                 actor=actor, obj=proposal,
                 changes={"status": {"before": "pending", "after": status}, "comment": {"before": None, "after": comment},
                          "proposed_by": {"before": None, "after": proposal.proposed_by.get_username()}})
    return proposal
