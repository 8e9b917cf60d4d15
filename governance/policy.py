"""The governance policy: which measures each risk tier must meet, per consideration, and its
versions. Risk officers edit it; every edit is a new version, and open promotions keep the
version they were requested under (`selectors.policy_current` reads the one in force).
"""

import json

from django.db import transaction

from audit.services import audit_record, diff
from core.errors import Forbidden, InvalidInput
from core.refusals import refusals_audited

from . import access, approvals, defaults
from .models import Policy

# What an approvals measure may ask for (see governance.approvals).
APPROVAL_ROLES = set(approvals.SLOT_ROLES)


def measure_text(measure: dict) -> str:
    """A measure's text, generated from its structured form where it has one (approvals), so
    the rule and its description cannot disagree."""
    if measure.get("gate") == "approvals":
        params = measure.get("params") or {}
        return approvals.describe(params.get("role", "any"), int(params.get("count", 1)), measure.get("stages"))
    return measure.get("text", "")


def _validate_policy(data) -> dict:
    errors = {}
    if not isinstance(data, dict) or not isinstance(data.get("tiers"), dict):
        return {"tiers": ["An object mapping tiers '1'–'4' to considerations is required."]}
    stages = set(defaults.GOVERNED_STAGES)
    for tier in ("1", "2", "3", "4"):
        rules = data["tiers"].get(tier)
        if not isinstance(rules, dict):
            errors[f"tiers.{tier}"] = ["Missing: an object mapping considerations to lists of measures."]
            continue
        for consideration, measures in rules.items():
            where = f"tiers.{tier}.{consideration}"
            if consideration not in defaults.CONSIDERATIONS:
                errors[where] = [f"Unknown consideration; one of {', '.join(defaults.CONSIDERATIONS)}."]
                continue
            if not isinstance(measures, list):
                errors[where] = ["Must be a list of measures."]
                continue
            for measure in measures:
                if not isinstance(measure, dict) or not isinstance(measure.get("text", ""), str) or (
                    not measure.get("text", "").strip() and measure.get("gate") != "approvals"
                ):
                    errors[where] = ["Each measure needs a 'text' (an approvals measure's is written from its role and count)."]
                elif "gate" in measure:
                    params = measure.get("params", {})
                    if not isinstance(measure["gate"], str) or not isinstance(params, dict):
                        errors[where] = ["'gate' is a gate key and 'params' an object."]
                    elif not set(measure.get("stages", defaults.GOVERNED_STAGES)) <= stages:
                        errors[where] = [f"'stages' must be among {', '.join(defaults.GOVERNED_STAGES)}."]
                    elif measure["gate"] == "approvals" and (
                        params.get("role", "any") not in APPROVAL_ROLES
                        or not isinstance(params.get("count", 1), int)
                        or isinstance(params.get("count", 1), bool)
                        or params.get("count", 1) < 1
                    ):
                        roles = ", ".join(approvals.SLOT_LABELS[r] for r in approvals.SLOT_ROLES)
                        errors[where] = [f"An approval comes from one of: {roles}; the count is a whole number of 1 or more."]
                    elif measure["gate"] == "approvals" and params.get("role") == "accountable" and params.get("count", 1) != 1:
                        errors[where] = ["A task has one Accountable person: ask for 1 approval from them."]
    intervals = data.get("review_interval_days", {})
    if not isinstance(intervals, dict) or any(
        not isinstance(intervals.get(t), int) or intervals[t] < 1 for t in ("1", "2", "3", "4")
    ):
        errors["review_interval_days"] = ["Days (positive integers) for each tier '1'–'4'."]
    due = data.get("signoff_due_days")
    if due is not None and (not isinstance(due, dict) or any(
        not isinstance(due.get(t), int) or isinstance(due.get(t), bool) or due[t] < 1 for t in ("1", "2", "3", "4")
    )):
        errors["signoff_due_days"] = ["Days (positive integers) for each tier '1'–'4' within which sign-off is due."]
    return errors


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
    errors = _validate_policy(data)
    if errors:
        raise InvalidInput("The policy is invalid.", fields=errors)
    data = with_generated_texts(data)
    last = Policy.objects.select_for_update().order_by("-number").first()
    policy = Policy.objects.create(number=(last.number + 1) if last else 1, data=data, comment=comment[:300], created_by=actor)
    audit_record(action="policy.update", actor=actor, obj=policy,
                 changes={"number": {"before": last.number if last else None, "after": policy.number},
                          **diff(last.data if last else {}, data)})
    return policy
