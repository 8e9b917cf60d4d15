"""Proposals: four eyes on governance data. A change of a use case's classification or RACI (and
the registry's model moves) that its author may not apply alone is stored as a proposal, which
supersedes a pending one of the same kind and waits for an independent risk officer
(`proposal_decisions`); `access.applies_directly` says which changes wait.
"""

from django.utils import timezone

from audit.services import audit_record
from registry.models import Proposal, UseCase

from . import access
from .notify import proposal_created


def proposals_supersede(*, kind: str, use_case: UseCase, model=None) -> None:
    """A newer change of the same kind (applied or proposed) makes a pending proposal moot."""
    Proposal.objects.filter(kind=kind, use_case=use_case, model=model, status=Proposal.Status.PENDING).update(
        status=Proposal.Status.SUPERSEDED, decided_at=timezone.now()
    )


def proposal_create(*, actor, kind: str, use_case: UseCase, payload: dict, summary: str, model=None, target_use_case=None) -> Proposal:
    """Store a proposal (superseding a pending one of the same kind), audit it, tell risk officers."""
    proposals_supersede(kind=kind, use_case=use_case, model=model)
    proposal = Proposal.objects.create(
        kind=kind, use_case=use_case, model=model, target_use_case=target_use_case, payload=payload,
        summary=summary[:500], proposed_by=actor,
    )
    audit_record(action="proposal.create", actor=actor, obj=proposal,
                 changes={"kind": {"before": None, "after": kind}, "summary": {"before": None, "after": proposal.summary},
                          "payload": {"before": None, "after": payload}})
    proposal_created(proposal=proposal)
    return proposal


def proposals_pending(*, user=None):
    """Proposals waiting for a risk officer; for a user, those they may decide (a dashboard's
    "governance changes to confirm"). Risk officers are told of each by `notify.proposal_created`."""
    qs = (Proposal.objects.filter(status=Proposal.Status.PENDING)
          .select_related("use_case__owner", "model__owner", "target_use_case__owner", "proposed_by")
          .order_by("created_at", "pk"))
    if user is None:
        return qs
    if not access.is_governor(user):
        return qs.none()
    return qs.exclude(proposed_by=user).exclude(use_case__owner=user).exclude(model__owner=user).exclude(target_use_case__owner=user)
