"""A use case's risk classification: the questionnaire's scoring scheme, the tier computed from
the answers (`scoring`, pure), a risk officer's override, and the four-eyes rule that makes a
lowering of the tier by anyone but an independent risk officer a proposal.
"""

from django.db import transaction

from audit.services import audit_record, diff
from core.errors import Conflict, Forbidden, InvalidInput
from core.refusals import refusals_audited
from registry.models import Proposal, UseCase

from . import access, scoring
from .models import Classification, ScoringScheme
from .proposals import proposal_create, proposals_supersede
from .selectors import classification_current, scheme_current


@refusals_audited("scoring_scheme.update")
@transaction.atomic
def scoring_scheme_update(*, actor, data: dict) -> ScoringScheme:
    """Store a new version of the questionnaire scoring; classifications made before keep theirs."""
    if not access.can_edit_policy(actor):
        raise Forbidden("Only risk officers edit the risk questionnaire.")
    errors = scoring.validate_scheme(data)
    if errors:
        raise InvalidInput("The scoring scheme is invalid.", fields=errors)
    last = ScoringScheme.objects.select_for_update().order_by("-number").first()
    scheme = ScoringScheme.objects.create(number=(last.number + 1) if last else 1, data=data, created_by=actor)
    audit_record(action="scoring_scheme.update", actor=actor, obj=scheme,
                 changes=diff(last.data if last else {}, data))
    return scheme


def _validate_classification(scheme, answers, ethics) -> dict:
    errors = {f"answers.{k}": v for k, v in scoring.validate_answers(scheme.data, answers).items()}
    ethic_keys = {e["key"] for e in scheme.data.get("ethics", [])}
    if not isinstance(ethics, dict):
        errors["ethics"] = ["Must be an object of free-text answers."]
    else:
        for key, value in ethics.items():
            if key not in ethic_keys:
                errors[f"ethics.{key}"] = [f"Unknown question; one of {', '.join(sorted(ethic_keys))}."]
            elif not isinstance(value, str):
                errors[f"ethics.{key}"] = ["Must be text."]
    return errors


def _validate_override(tier, justification) -> dict:
    errors = {}
    if tier not in (1, 2, 3, 4):
        errors["override_tier"] = ["Must be 1, 2, 3 or 4."]
    if not (justification or "").strip():
        errors["override_justification"] = ["A written justification is required to override the computed tier."]
    return errors


def classification_apply(*, use_case, scheme, payload: dict, created_by, confirmed_by=None, action="classification.submit",
                         audit_actor=None) -> Classification:
    """Store the classification row (the override standing until a risk officer changes it)."""
    before = classification_current(use_case=use_case)
    override = payload.get("override_tier")
    if override:
        override_fields = {"override_tier": override, "override_justification": payload["override_justification"],
                           "overridden_by_id": payload["overridden_by"]}
    elif before and before.override_tier:
        override_fields = {"override_tier": before.override_tier, "override_justification": before.override_justification,
                           "overridden_by_id": before.overridden_by_id}
    else:
        override_fields = {}
    classification = Classification.objects.create(
        use_case=use_case, scheme=scheme, answers=payload["answers"], ethics=payload["ethics"], score=payload["score"],
        computed_tier=payload["computed_tier"], drivers=payload["drivers"], created_by=created_by,
        confirmed_by=confirmed_by, **override_fields,
    )
    changes = {
        "tier": {"before": before.tier if before else None, "after": classification.tier},
        "computed_tier": {"before": before.computed_tier if before else None, "after": classification.computed_tier},
        "answers": {"before": before.answers if before else None, "after": classification.answers},
        "ethics": {"before": before.ethics if before else None, "after": classification.ethics},
        "scheme": {"before": before.scheme.number if before else None, "after": scheme.number},
    }
    if override:
        changes["override_tier"] = {"before": before.override_tier if before else None, "after": override}
        changes["justification"] = {"before": before.override_justification if before else None,
                                    "after": payload["override_justification"]}
    if confirmed_by:
        changes["proposed_by"] = {"before": None, "after": created_by.get_username()}
    audit_record(action=action, actor=audit_actor or created_by, obj=use_case, changes=_changed(changes))
    return classification


def _changed(changes: dict) -> dict:
    return {k: v for k, v in changes.items() if v["before"] != v["after"]}


@refusals_audited("classification.submit")
@transaction.atomic
def classification_set(
    *, actor, use_case: UseCase, answers: dict, ethics: dict | None = None, override_tier: int | None = None,
    override_justification: str = "",
) -> Classification | Proposal:
    """Answer the questionnaire (and, for a risk officer, override the tier) in one transaction:
    an invalid override stores nothing.

    Four eyes: a risk officer who does not own the use case sets it at once. Anyone else (the
    owner) proposes; the proposal waits for another risk officer, and the previous
    classification holds — except a change that makes the tier stricter (or keeps it), which
    applies at once: it needs no one's protection. A first classification always waits, so an
    unconfirmed use case cannot be promoted. A risk officer's override stands until a risk
    officer changes it.
    """
    if not access.can_classify(actor, use_case):
        raise Forbidden("Only the use case's owner, risk officers and admins classify it.")
    if override_tier is not None:
        if not access.can_override(actor):
            raise Forbidden("Only risk officers may override a computed tier.")
        if use_case.owner_id == actor.pk:
            raise Forbidden("You own this use case; another risk officer must override its tier.")
    scheme = scheme_current()
    ethics = ethics or {}
    errors = _validate_classification(scheme, answers, ethics)
    if override_tier is not None:
        errors.update(_validate_override(override_tier, override_justification))
    if errors:
        raise InvalidInput("The classification is invalid; nothing was stored.", fields=errors)
    UseCase.objects.select_for_update().filter(pk=use_case.pk).first()  # serialise changes of one use case
    result = scoring.compute_tier(scheme.data, answers)
    payload = {"answers": answers, "ethics": ethics, "scheme": scheme.number, "score": result.score,
               "computed_tier": result.tier, "drivers": result.drivers}
    if override_tier is not None:
        payload.update(override_tier=override_tier, override_justification=override_justification.strip(),
                       overridden_by=actor.pk)
    current = classification_current(use_case=use_case)
    new_tier = override_tier or (current.override_tier if current and current.override_tier else result.tier)
    if access.applies_directly(actor, use_case) or (current is not None and new_tier >= current.tier):
        proposals_supersede(kind=Proposal.Kind.CLASSIFICATION, use_case=use_case)
        return classification_apply(
            use_case=use_case, scheme=scheme, payload=payload, created_by=actor,
            action="classification.override" if override_tier is not None else "classification.submit",
        )
    summary = (f"Classify as tier {new_tier}" if current is None
               else f"Lower the tier from {current.tier} to {new_tier}")
    return proposal_create(actor=actor, kind=Proposal.Kind.CLASSIFICATION, use_case=use_case, payload=payload, summary=summary)


def classification_submit(*, actor, use_case: UseCase, answers: dict, ethics: dict | None = None) -> Classification | Proposal:
    """Answer the questionnaire (see `classification_set`)."""
    return classification_set(actor=actor, use_case=use_case, answers=answers, ethics=ethics)


@refusals_audited("classification.override")
@transaction.atomic
def classification_override(*, actor, use_case: UseCase, tier: int, justification: str) -> Classification:
    """A risk officer sets the tier by hand; a new row keeps the computed one and the history."""
    if not access.can_override(actor):
        raise Forbidden("Only risk officers may override a computed tier.")
    if use_case.owner_id == actor.pk:
        raise Forbidden("You own this use case; another risk officer must override its tier.")
    errors = _validate_override(tier, justification)
    if errors:
        raise InvalidInput("Invalid override.", fields={k.replace("override_", ""): v for k, v in errors.items()})
    current = classification_current(use_case=use_case)
    if current is None:
        raise Conflict("Classify the use case with the questionnaire before overriding its tier.")
    payload = {"answers": current.answers, "ethics": current.ethics, "score": current.score,
               "computed_tier": current.computed_tier, "drivers": current.drivers, "override_tier": tier,
               "override_justification": justification.strip(), "overridden_by": actor.pk}
    proposals_supersede(kind=Proposal.Kind.CLASSIFICATION, use_case=use_case)
    return classification_apply(use_case=use_case, scheme=current.scheme, payload=payload, created_by=actor,
                                action="classification.override")
