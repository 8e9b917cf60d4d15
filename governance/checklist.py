"""What a move still needs: the checklist of a promotion request judged against its own policy
version (gates, exceptions in force, blockers), when its sign-off is due, and what one more
approval would do.
"""

from datetime import timedelta

from registry.models import ModelVersion, Stage

from . import approvals, defaults
from .gate_exceptions import exception_body, exceptions_in_force
from .gates import blockers, evaluate_gate, get_gate
from .models import PromotionRequest
from .policy import measure_text
from .selectors import measures


def promotion_due(promotion: PromotionRequest):
    """When sign-off is due: the request's time plus its tier's `signoff_due_days` in the
    request's policy version (defaults.SIGNOFF_DUE_DAYS where the policy sets none)."""
    days = (promotion.policy.data.get("signoff_due_days") or defaults.SIGNOFF_DUE_DAYS).get(str(promotion.tier))
    return promotion.created_at + timedelta(days=int(days or defaults.SIGNOFF_DUE_DAYS["4"]))


def approval_consequence(*, promotion: PromotionRequest, user) -> str | None:
    """What `user`'s approval would do beyond recording it: "This approval moves credit-gbm v3
    to production and archives v2." when it completes every gate; None otherwise."""
    if promotion.status not in PromotionRequest.ACTIVE or not approvals.completes(promotion, user):
        return None
    if not all(item["met"] for item in promotion_checklist(promotion=promotion) if item["key"] != "approvals"):
        return None
    version = promotion.version
    text = f"This approval moves {version.model.name} v{version.number} to {Stage(promotion.target_stage).label.lower()}"
    if promotion.target_stage == Stage.PRODUCTION:
        current = ModelVersion.objects.filter(model_id=version.model_id, stage=Stage.PRODUCTION).exclude(pk=version.pk).first()
        if current:
            text += f" and archives v{current.number}"
    return text + "."


def promotion_checklist(*, promotion: PromotionRequest) -> list[dict]:
    """[{key, label, met, detail, evidence_url, consideration, params, exception}] judged against
    the promotion's own policy version. A gate with a risk officer's exception in force counts as
    met and says so; approvals never take exceptions."""
    result = []
    waived = exceptions_in_force(version=promotion.version)
    for measure in measures(promotion):
        gate = get_gate(measure["gate"])
        outcome = evaluate_gate(measure["gate"], version=promotion.version, promotion=promotion, params=measure.get("params"))
        item = {
            "key": measure["gate"],
            "label": measure_text(measure) or (gate.label if gate else measure["gate"]),
            "met": outcome.met,
            "detail": outcome.detail,
            "evidence_url": outcome.evidence_url,
            "consideration": measure["consideration"],
            "params": measure.get("params", {}),
            "exception": None,
        }
        exception = waived.get(measure["gate"])
        if exception and not outcome.met and measure["gate"] != "approvals" and not (gate and gate.blocking):
            item["met"] = True
            item["exception"] = exception_body(exception)
            item["detail"] = (
                f"Not met ({outcome.detail}) — exception granted by {exception.granted_by.get_username()} "
                f"until {exception.expires_at:%Y-%m-%d %H:%M}: {exception.justification}"
            )
        result.append(item)
    if promotion.target_stage != Stage.ARCHIVED:
        # Blockers apply to every move but archiving, whatever the policy lists, and cannot be
        # waived (gates.py). They are listed only while they block.
        listed = {item["key"] for item in result}
        for gate in blockers():
            if gate.key in listed:
                continue
            outcome = evaluate_gate(gate.key, version=promotion.version, promotion=promotion)
            if not outcome.met:
                result.append({"key": gate.key, "label": gate.label, "met": False, "detail": outcome.detail,
                               "evidence_url": outcome.evidence_url, "consideration": "blocking", "params": {},
                               "exception": None})
    return result
