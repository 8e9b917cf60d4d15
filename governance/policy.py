"""The governance policy: which measures each risk tier must meet, per consideration, and its
versions. Risk officers edit it; every edit is a new version, and open promotions keep the
version they were requested under (`selectors.policy_current` reads the one in force).
"""

import json

from django.db import transaction

from audit.services import audit_record, diff
from core.errors import Forbidden, InvalidInput
from core.refusals import refusals_audited

from . import access, approvals
from .models import Policy
from .shapes import policy_errors


def measure_text(measure: dict) -> str:
    """A measure's text, generated from its structured form where it has one (approvals), so
    the rule and its description cannot disagree."""
    if measure.get("gate") == "approvals":
        params = measure.get("params") or {}
        return approvals.describe(params.get("role", "any"), int(params.get("count", 1)), measure.get("stages"))
    return measure.get("text", "")


def with_generated_texts(data: dict) -> dict:
    """The policy with each structured measure's text generated from its structure."""
    data = json.loads(json.dumps(data))
    for rules in data["tiers"].values():
        for measures in rules.values():
            for measure in measures:
                if measure.get("gate") == "approvals":
                    measure["text"] = measure_text(measure)
    return data


@refusals_audited("policy.update")
@transaction.atomic
def policy_update(*, actor, data: dict, comment: str = "") -> Policy:
    """Store the matrix as the next policy version. Open promotions keep the version they were
    requested under."""
    if not access.can_edit_policy(actor):
        raise Forbidden("Only risk officers edit the governance policy.")
    errors = policy_errors(data)
    if errors:
        raise InvalidInput("The policy is invalid.", fields=errors)
    data = with_generated_texts(data)
    last = Policy.objects.select_for_update().order_by("-number").first()
    policy = Policy.objects.create(number=(last.number + 1) if last else 1, data=data, comment=comment[:300], created_by=actor)
    audit_record(action="policy.update", actor=actor, obj=policy,
                 changes={"number": {"before": last.number if last else None, "after": policy.number},
                          **diff(last.data if last else {}, data)})
    return policy
