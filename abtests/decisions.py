"""Decisions on an experiment: record one (adopting opens the promotion request), co-sign it."""

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, Forbidden, InvalidInput
from governance.promotions import promotion_request
from registry.models import STAGE_ORDER

from .access import can_decide, require
from .models import Analysis, Decision, Experiment


@transaction.atomic
def decision_record(*, actor, experiment: Experiment, outcome: str, rationale: str, version=None) -> Decision:
    """Record the decision. Adopting needs a completed (horizon reached, not early-stopped)
    analysis; the running experiment is closed by it."""
    exp = Experiment.objects.select_for_update().select_related("model__use_case").get(pk=experiment.pk)
    require(can_decide(actor, exp), "Decisions are signed by the people the RACI holds accountable for model acceptance.")
    errors = {}
    if outcome not in Decision.Outcome.values:
        errors["outcome"] = [f"Must be one of {', '.join(Decision.Outcome.values)}."]
    if not (rationale or "").strip():
        errors["rationale"] = ["Explain the decision."]
    if errors:
        raise InvalidInput("Invalid decision.", fields=errors)
    if exp.status == Experiment.Status.DRAFT:
        raise Conflict("A draft experiment cannot be decided.", fields={"status": [exp.status]})
    if exp.status == Experiment.Status.DECIDED:
        raise Conflict("This experiment is already decided.", fields={"status": [exp.status]})
    # The verdict of record is the first completed analysis: the one at the planned look. Later
    # analyses read the same events (see `horizon`), so they cannot move it.
    analysis = exp.analyses.filter(status=Analysis.Status.COMPLETED).order_by("created_at", "pk").first()
    challengers = [a.version for a in exp.arms.select_related("version").order_by("position")[1:]]
    if outcome == Decision.Outcome.ADOPT:
        if version is None and len(challengers) == 1:
            version = challengers[0]
        if version is None or version.pk not in {v.pk for v in challengers}:
            raise InvalidInput("Name the challenger version to adopt.", fields={"version": ["Must be one of the challengers."]})
        if analysis is None:
            raise Conflict(
                "No completed analysis: a challenger is adopted only on a result at the planned horizon.",
                fields={"analysis": ["none completed"]}, code="verdict_refused",
            )
    else:
        version = None
    decision = Decision.objects.create(
        experiment=exp, outcome=outcome, rationale=rationale, version=version, analysis=analysis, decided_by=actor
    )
    decision.signers.add(actor)
    if version is not None:
        decision.promotion_ref = _open_promotion(exp, version, actor)
        decision.save(update_fields=["promotion_ref"])
    before = exp.status
    if exp.status == Experiment.Status.RUNNING:
        exp.stopped_at = timezone.now()
    exp.status = Experiment.Status.DECIDED
    exp.save(update_fields=["status", "stopped_at", "updated_at"])
    audit_record(
        action="experiment.decision", actor=actor, obj=exp,
        changes={"status": {"before": before, "after": exp.status}, "outcome": {"before": None, "after": outcome},
                 "version": {"before": None, "after": version.number if version else None},
                 "analysis": {"before": None, "after": analysis.pk if analysis else None},
                 "promotion": {"before": None, "after": decision.promotion_ref}},
    )
    return decision


def _open_promotion(exp: Experiment, version, decider) -> str:
    """"Adopt" opens a promotion request of the challenger to its next stage, in the name of the
    person who decided (the trail records who did what; as its requester, the decider cannot
    also approve it). Returns the request id, or why none was opened (e.g. already in
    production, use case unclassified)."""
    if version.stage not in STAGE_ORDER or version.stage == STAGE_ORDER[-1]:
        return f"not opened: version is {version.stage}"
    target = STAGE_ORDER[STAGE_ORDER.index(version.stage) + 1]
    try:
        with transaction.atomic():
            promotion = promotion_request(
                actor=decider, version=version, target_stage=target, adoption=True,
                reason=f"Adopted in experiment '{exp.name}' (#{exp.pk}); decision signed by {decider.get_username()}.",
            )
    except (Conflict, Forbidden, InvalidInput) as exc:
        return f"not opened: {exc.message}"[:64]
    return str(promotion.pk)


@transaction.atomic
def decision_sign(*, actor, experiment: Experiment) -> Decision:
    """Co-sign a recorded decision (another person the RACI names)."""
    decision = Decision.objects.select_for_update().select_related("experiment__model__use_case").filter(experiment=experiment).first()
    if decision is None:
        raise Conflict("No decision to sign yet.")
    require(can_decide(actor, decision.experiment), "The RACI does not name you for model acceptance.")
    if decision.signers.filter(pk=actor.pk).exists():
        raise Conflict("You already signed this decision.")
    decision.signers.add(actor)
    audit_record(action="experiment.decision_sign", actor=actor, obj=experiment,
                 changes={"signer": {"before": None, "after": actor.get_username()}})
    return decision
