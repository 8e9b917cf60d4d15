"""What is in force now: the scoring scheme, the policy, a use case's classification and RACI,
and the measures a promotion's policy version asks of its move. Reads only; the services that
change these rows live in `classification`, `policy` and `raci`.
"""

import copy
import json

from registry.models import Stage, UseCase

from . import defaults
from .models import Classification, Policy, PromotionRequest, RaciMatrix, ScoringScheme


def _current(model, data, **extra):
    """The newest version; the shipped defaults as version 1 if the table is empty (the data
    migration loads them, but a flushed test database or a reset table may lack them)."""
    current = model.objects.order_by("-number").first()
    if current is None:
        # A copy: the row's data is handed to callers, who may edit it into a new version; the
        # shipped defaults must not change with it.
        current, _ = model.objects.get_or_create(number=1, defaults={"data": copy.deepcopy(data), **extra})
    return current


def scheme_current() -> ScoringScheme:
    return _current(ScoringScheme, defaults.QUESTIONNAIRE)


def policy_current() -> Policy:
    return _current(Policy, defaults.POLICY, comment="Defaults after Introducing MLOps")


def classification_current(*, use_case: UseCase) -> Classification | None:
    return use_case.classifications.select_related("scheme").order_by("-created_at", "-pk").first()


def raci_for(*, use_case: UseCase) -> RaciMatrix:
    """The stored matrix, or the default (unsaved) when none was written yet."""
    try:
        return use_case.raci
    except RaciMatrix.DoesNotExist:
        return RaciMatrix(use_case=use_case, cells=json.loads(json.dumps(defaults.RACI)), assignments={})


def measures(promotion: PromotionRequest) -> list[dict]:
    """The gated measures of the promotion's policy version that apply to its target stage."""
    items = []
    if promotion.target_stage != Stage.ARCHIVED:
        tier_rules = promotion.policy.data.get("tiers", {}).get(str(promotion.tier), {})
        for consideration, listed in tier_rules.items():
            for measure in listed:
                if measure.get("gate") and promotion.target_stage in measure.get("stages", defaults.GOVERNED_STAGES):
                    items.append({**measure, "consideration": consideration})
    if not any(m["gate"] == "approvals" for m in items):
        # Every move needs one human sign-off, even where the policy asks for none.
        items.append({"text": "1 approval", "gate": "approvals", "params": {"role": "any", "count": 1}, "consideration": "sign_off"})
    return items
