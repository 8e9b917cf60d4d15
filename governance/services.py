"""Governance services: classification, policy, RACI, the promotion/sign-off workflow, reviews.

Each state change is one keyword-only function: permission check, one transaction, one audit
event written with `audit_record` in that transaction.
"""

import hashlib
import json
import logging
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record, diff
from core.errors import Conflict, Forbidden, InvalidInput
from core.roles import Role, has_role, user_roles
from registry.models import STAGE_ORDER, ModelVersion, Stage, UseCase
from registry.services import model_version_set_stage

from . import access, defaults, scoring
from .gates import evaluate_gate, get_gate
from .models import (
    Classification,
    ModelCardText,
    Policy,
    PromotionRequest,
    RaciMatrix,
    Review,
    ScoringScheme,
    SignOff,
)

logger = logging.getLogger(__name__)

APPROVAL_ROLES = {"any", "accountable", *Role.values}
# Steward roles that may approve when a policy says "any".
APPROVING_ROLES = {Role.DATA_SCIENTIST, Role.RISK_OFFICER, Role.ADMIN}


# --- selectors -----------------------------------------------------------------------------


def _current(model, data, **extra):
    """The newest version; the shipped defaults as version 1 if the table is empty (the data
    migration loads them, but a flushed test database or a reset table may lack them)."""
    current = model.objects.order_by("-number").first()
    if current is None:
        current, _ = model.objects.get_or_create(number=1, defaults={"data": data, **extra})
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


def lineage_fingerprint(version: ModelVersion) -> str:
    """SHA-256 over what an approval vouches for: artifact, datasets, code."""
    datasets = lambda rel: sorted(  # noqa: E731
        [d.name, d.version, d.sha256, d.source_uri] for d in getattr(version, rel).all()
    )
    content = {
        "sha256": version.sha256,
        "training": datasets("training_datasets"),
        "validation": datasets("validation_datasets"),
        "code_repository": version.code_repository,
        "code_commit": version.code_commit,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _measures(promotion: PromotionRequest) -> list[dict]:
    """The gated measures of the promotion's policy version that apply to its target stage."""
    items = []
    if promotion.target_stage != Stage.ARCHIVED:
        tier_rules = promotion.policy.data.get("tiers", {}).get(str(promotion.tier), {})
        for consideration, measures in tier_rules.items():
            for measure in measures:
                if measure.get("gate") and promotion.target_stage in measure.get("stages", defaults.GOVERNED_STAGES):
                    items.append({**measure, "consideration": consideration})
    if not any(m["gate"] == "approvals" for m in items):
        # Every move needs one human sign-off, even where the policy asks for none.
        items.append({"text": "1 approval", "gate": "approvals", "params": {"role": "any", "count": 1}, "consideration": "sign_off"})
    return items


def promotion_checklist(*, promotion: PromotionRequest) -> list[dict]:
    """[{key, label, met, detail, evidence_url, consideration, params}] judged against the
    promotion's own policy version."""
    result = []
    for measure in _measures(promotion):
        gate = get_gate(measure["gate"])
        outcome = evaluate_gate(measure["gate"], version=promotion.version, promotion=promotion, params=measure.get("params"))
        result.append({
            "key": measure["gate"],
            "label": measure.get("text") or (gate.label if gate else measure["gate"]),
            "met": outcome.met,
            "detail": outcome.detail,
            "evidence_url": outcome.evidence_url,
            "consideration": measure["consideration"],
            "params": measure.get("params", {}),
        })
    return result


def approval_count(*, promotion: PromotionRequest, role: str) -> int:
    return sum(
        1
        for s in promotion.signoffs.all()
        if s.decision == SignOff.Decision.APPROVE and s.lapsed_at is None and (role == "any" or role in s.approver_roles)
    )


def _approver_capacities(promotion: PromotionRequest, user) -> set[str]:
    """What this person's approval would count for: their Steward roles, and `accountable` /
    `responsible` when the use case's RACI assigns them that for the move's task."""
    capacities = set(user_roles(user))
    raci = raci_for(use_case=promotion.version.model.use_case)
    task = defaults.STAGE_TASK[promotion.target_stage]
    if user.pk in raci.people_for(task, {"A"}):
        capacities.add("accountable")
    if user.pk in raci.people_for(task, {"R"}):
        capacities.add("responsible")
    return capacities


def _require_may_sign(promotion: PromotionRequest, user) -> set[str]:
    """Separation of duties first, then: the RACI or the policy must name this person."""
    if user.pk == promotion.requester_id:
        raise Forbidden("You requested this promotion; separation of duties means someone else must sign it off.")
    if user.pk == promotion.version.created_by_id:
        raise Forbidden("You created this model version; separation of duties means someone else must sign it off.")
    capacities = _approver_capacities(promotion, user)
    named_roles = {m["params"].get("role", "any") for m in _measures(promotion) if m["gate"] == "approvals"}
    if {"accountable", "responsible"} & capacities:
        return capacities
    if "any" in named_roles and capacities & APPROVING_ROLES:
        return capacities
    if capacities & named_roles:
        return capacities
    task = defaults.RACI_TASKS[defaults.STAGE_TASK[promotion.target_stage]]
    raise Forbidden(
        f"Neither the policy (roles: {', '.join(sorted(named_roles))}) nor the RACI of this use case "
        f"(Accountable/Responsible for '{task}') names you as an approver of this move."
    )


# --- classification and scoring -----------------------------------------------------------


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


@transaction.atomic
def classification_submit(*, actor, use_case: UseCase, answers: dict, ethics: dict | None = None) -> Classification:
    if not access.can_classify(actor, use_case):
        raise Forbidden("Only the use case's owner, risk officers and admins classify it.")
    scheme = scheme_current()
    errors = {f"answers.{k}": v for k, v in scoring.validate_answers(scheme.data, answers).items()}
    ethics = ethics or {}
    ethic_keys = {e["key"] for e in scheme.data.get("ethics", [])}
    if not isinstance(ethics, dict):
        errors["ethics"] = ["Must be an object of free-text answers."]
    else:
        for key, value in ethics.items():
            if key not in ethic_keys:
                errors[f"ethics.{key}"] = [f"Unknown question; one of {', '.join(sorted(ethic_keys))}."]
            elif not isinstance(value, str):
                errors[f"ethics.{key}"] = ["Must be text."]
    if errors:
        raise InvalidInput("The questionnaire answers are invalid.", fields=errors)
    result = scoring.compute_tier(scheme.data, answers)
    before = classification_current(use_case=use_case)
    classification = Classification.objects.create(
        use_case=use_case, scheme=scheme, answers=answers, ethics=ethics, score=result.score,
        computed_tier=result.tier, drivers=result.drivers, created_by=actor,
    )
    audit_record(
        action="classification.submit", actor=actor, obj=use_case,
        changes={
            "tier": {"before": before.tier if before else None, "after": result.tier},
            "answers": {"before": before.answers if before else None, "after": answers},
            "ethics": {"before": before.ethics if before else None, "after": ethics},
            "scheme": {"before": None, "after": scheme.number},
        },
    )
    return classification


@transaction.atomic
def classification_override(*, actor, use_case: UseCase, tier: int, justification: str) -> Classification:
    """A risk officer sets the tier by hand; a new row keeps the computed one and the history."""
    if not access.can_override(actor):
        raise Forbidden("Only risk officers may override a computed tier.")
    errors = {}
    if tier not in (1, 2, 3, 4):
        errors["tier"] = ["Must be 1, 2, 3 or 4."]
    if not (justification or "").strip():
        errors["justification"] = ["A written justification is required to override the computed tier."]
    if errors:
        raise InvalidInput("Invalid override.", fields=errors)
    current = classification_current(use_case=use_case)
    if current is None:
        raise Conflict("Classify the use case with the questionnaire before overriding its tier.")
    classification = Classification.objects.create(
        use_case=use_case, scheme=current.scheme, answers=current.answers, ethics=current.ethics,
        score=current.score, computed_tier=current.computed_tier, drivers=current.drivers,
        override_tier=tier, override_justification=justification.strip(), overridden_by=actor, created_by=actor,
    )
    audit_record(
        action="classification.override", actor=actor, obj=use_case,
        changes={
            "tier": {"before": current.tier, "after": tier},
            "justification": {"before": current.override_justification or None, "after": justification.strip()},
        },
    )
    return classification


# --- policy --------------------------------------------------------------------------------


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
                if not isinstance(measure, dict) or not isinstance(measure.get("text"), str) or not measure["text"].strip():
                    errors[where] = ["Each measure needs a 'text'."]
                elif "gate" in measure:
                    params = measure.get("params", {})
                    if not isinstance(measure["gate"], str) or not isinstance(params, dict):
                        errors[where] = ["'gate' is a gate key and 'params' an object."]
                    elif not set(measure.get("stages", defaults.GOVERNED_STAGES)) <= stages:
                        errors[where] = [f"'stages' must be among {', '.join(defaults.GOVERNED_STAGES)}."]
                    elif measure["gate"] == "approvals" and (
                        params.get("role", "any") not in APPROVAL_ROLES
                        or not isinstance(params.get("count", 1), int)
                        or params.get("count", 1) < 1
                    ):
                        errors[where] = [f"Approvals need 'role' in {', '.join(sorted(APPROVAL_ROLES))} and 'count' ≥ 1."]
    intervals = data.get("review_interval_days", {})
    if not isinstance(intervals, dict) or any(
        not isinstance(intervals.get(t), int) or intervals[t] < 1 for t in ("1", "2", "3", "4")
    ):
        errors["review_interval_days"] = ["Days (positive integers) for each tier '1'–'4'."]
    return errors


@transaction.atomic
def policy_update(*, actor, data: dict, comment: str = "") -> Policy:
    """Store the matrix as the next policy version. Open promotions keep the version they were
    requested under."""
    if not access.can_edit_policy(actor):
        raise Forbidden("Only risk officers edit the governance policy.")
    errors = _validate_policy(data)
    if errors:
        raise InvalidInput("The policy is invalid.", fields=errors)
    last = Policy.objects.select_for_update().order_by("-number").first()
    policy = Policy.objects.create(number=(last.number + 1) if last else 1, data=data, comment=comment[:300], created_by=actor)
    audit_record(action="policy.update", actor=actor, obj=policy,
                 changes={"number": {"before": last.number if last else None, "after": policy.number},
                          **diff(last.data if last else {}, data)})
    return policy


# --- RACI ----------------------------------------------------------------------------------


def _validate_raci(cells) -> dict:
    errors = {}
    if not isinstance(cells, dict):
        return {"cells": ["An object mapping tasks to {role: letter}."]}
    for task in cells:
        if task not in defaults.RACI_TASKS:
            errors[f"cells.{task}"] = ["Unknown task."]
    for task in defaults.RACI_TASKS:
        row = cells.get(task)
        where = f"cells.{task}"
        if not isinstance(row, dict):
            errors[where] = ["Missing task row."]
            continue
        bad = [r for r in row if r not in defaults.RACI_ROLES]
        if bad:
            errors[where] = [f"Unknown role(s): {', '.join(bad)}."]
            continue
        wrong = [f"{r}={v!r}" for r, v in row.items() if v not in defaults.RACI_VALUES]
        if wrong:
            errors[where] = [f"Cells are one of R, A, C, I, A/R or empty; got {', '.join(wrong)}."]
            continue
        accountable = [r for r, v in row.items() if v in ("A", "A/R")]
        responsible = [r for r, v in row.items() if v in ("R", "A/R")]
        messages = []
        if len(accountable) != 1:
            messages.append(f"Exactly one Accountable (A or A/R) is required; found {len(accountable)}.")
        if not responsible:
            messages.append("At least one Responsible (R or A/R) is required.")
        if messages:
            errors[where] = messages
    return errors


@transaction.atomic
def raci_update(*, actor, use_case: UseCase, cells: dict | None = None, assignments: dict | None = None) -> RaciMatrix:
    """Replace the matrix and/or the people per RACI role (`assignments`: {role: [usernames]})."""
    if not access.can_edit_raci(actor, use_case):
        raise Forbidden("Only the use case's owner, risk officers and admins edit its RACI.")
    raci = raci_for(use_case=use_case)
    if raci.pk:
        raci = RaciMatrix.objects.select_for_update().get(pk=raci.pk)
    before = {"cells": raci.cells, "assignments": raci.assignments}
    errors = _validate_raci(cells) if cells is not None else {}
    resolved = raci.assignments
    if assignments is not None:
        resolved = {}
        if not isinstance(assignments, dict):
            errors["assignments"] = ["An object mapping RACI roles to lists of usernames."]
        else:
            users = get_user_model().objects.filter(
                username__in=[u for names in assignments.values() if isinstance(names, list) for u in names if isinstance(u, str)]
            )
            by_name = {u.username: u.pk for u in users}
            for role, names in assignments.items():
                where = f"assignments.{role}"
                if role not in defaults.RACI_ROLES:
                    errors[where] = ["Unknown RACI role."]
                elif not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    errors[where] = ["A list of usernames."]
                elif missing := [n for n in names if n not in by_name]:
                    errors[where] = [f"Unknown user(s): {', '.join(missing)}."]
                else:
                    resolved[role] = sorted({by_name[n] for n in names})
    if errors:
        raise InvalidInput("The RACI matrix is invalid.", fields=errors)
    if cells is not None:
        raci.cells = cells
    raci.assignments = resolved
    raci.updated_by = actor
    raci.save()
    changes = diff(before, {"cells": raci.cells, "assignments": raci.assignments})
    if changes:
        audit_record(action="raci.update", actor=actor, obj=use_case, changes=changes)
    return raci


# --- promotions and sign-offs ---------------------------------------------------------------


@transaction.atomic
def promotion_request(*, actor, version: ModelVersion, target_stage: str, reason: str = "") -> PromotionRequest:
    """Ask to move `version` one stage forward (or to archive), judged against the policy in force."""
    if not access.can_request_promotion(actor, version):
        raise Forbidden("Only the model's data scientists request its promotions.")
    if target_stage not in Stage.values:
        raise InvalidInput("Unknown stage.", fields={"target_stage": [f"Unknown stage {target_stage!r}; one of {', '.join(Stage.values)}."]})
    version = ModelVersion.objects.select_for_update().select_related("model__use_case").get(pk=version.pk)
    current = version.stage
    if current == Stage.ARCHIVED:
        raise InvalidInput("Archived versions stay archived.", fields={"target_stage": ["This version is archived."]})
    if target_stage != Stage.ARCHIVED:
        if STAGE_ORDER.index(target_stage) != STAGE_ORDER.index(current) + 1:
            expected = STAGE_ORDER[STAGE_ORDER.index(current) + 1] if current != Stage.PRODUCTION else None
            message = (
                f"A version in {current} moves to {expected} next (or to archived); stages cannot be skipped or reversed."
                if expected else "A production version can only be archived."
            )
            raise InvalidInput("Invalid target stage.", fields={"target_stage": [message]})
    classification = classification_current(use_case=version.model.use_case)
    if classification is None and target_stage != Stage.ARCHIVED:
        raise Conflict(f"Classify the use case '{version.model.use_case}' before promoting its models.",
                       fields={"use_case": ["Not classified yet."]})
    if PromotionRequest.objects.filter(version=version, target_stage=target_stage, status__in=PromotionRequest.ACTIVE).exists():
        raise Conflict(f"An open request to move {version} to {target_stage} already exists.")
    promotion = PromotionRequest(
        version=version, from_stage=current, target_stage=target_stage, requester=actor,
        policy=policy_current(), tier=classification.tier if classification else 1,
        sha256=version.sha256, lineage_fingerprint=lineage_fingerprint(version), reason=reason,
    )
    try:
        with transaction.atomic():
            promotion.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(f"An open request to move {version} to {target_stage} already exists.") from exc
    audit_record(
        action="promotion.request", actor=actor, obj=promotion,
        changes={
            "model": {"before": None, "after": version.model.name},
            "number": {"before": None, "after": version.number},
            "from_stage": {"before": None, "after": current},
            "target_stage": {"before": None, "after": target_stage},
            "policy_version": {"before": None, "after": promotion.policy.number},
            "tier": {"before": None, "after": promotion.tier},
            "sha256": {"before": None, "after": promotion.sha256},
        },
    )
    from .notify import promotion_requested

    transaction.on_commit(lambda: promotion_requested(promotion_id=promotion.pk))
    return promotion


def _notify_decided(promotion: PromotionRequest) -> None:
    from .notify import promotion_decided

    transaction.on_commit(lambda: promotion_decided(promotion_id=promotion.pk))


def _lock(promotion: PromotionRequest) -> PromotionRequest:
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("version__model__use_case", "policy", "requester")
        .get(pk=promotion.pk)
    )


def _require_active(promotion: PromotionRequest) -> None:
    if promotion.status not in PromotionRequest.ACTIVE:
        raise Conflict(f"This request is {promotion.get_status_display().lower()}; it can no longer be signed or changed.")


def _require_unchanged(promotion: PromotionRequest) -> None:
    version = promotion.version
    if version.sha256 != promotion.sha256 or lineage_fingerprint(version) != promotion.lineage_fingerprint:
        raise Conflict("The version's artifact or lineage changed since this request was made; request again.")


@transaction.atomic
def signoff_approve(*, promotion: PromotionRequest, actor, comment: str = "") -> PromotionRequest:
    """Approve; when every gate of the request's policy version is then met, promote in the same
    transaction. The promotion row lock serialises concurrent approvals, so only one promotes."""
    promotion = _lock(promotion)
    _require_active(promotion)
    capacities = _require_may_sign(promotion, actor)
    if promotion.signoffs.filter(approver=actor).exists():
        raise Conflict("You have already signed off this request.")
    _require_unchanged(promotion)
    SignOff.objects.create(
        promotion=promotion, approver=actor, decision=SignOff.Decision.APPROVE, comment=comment,
        sha256=promotion.sha256, policy=promotion.policy, approver_roles=sorted(capacities),
    )
    audit_record(
        action="signoff.approve", actor=actor, obj=promotion,
        changes={
            "decision": {"before": None, "after": "approve"},
            "comment": {"before": None, "after": comment},
            "sha256": {"before": None, "after": promotion.sha256},
            "policy_version": {"before": None, "after": promotion.policy.number},
        },
    )
    checklist = promotion_checklist(promotion=promotion)
    if all(item["met"] for item in checklist):
        _promote(promotion, actor)
    elif all(item["met"] for item in checklist if item["key"] == "approvals") and promotion.status != PromotionRequest.Status.APPROVED:
        promotion.status = PromotionRequest.Status.APPROVED
        promotion.save(update_fields=["status"])
        audit_record(action="promotion.approved", actor=actor, obj=promotion,
                     changes={"status": {"before": "open", "after": "approved"},
                              "missing": {"before": None, "after": [i["key"] for i in checklist if not i["met"]]}})
    return promotion


@transaction.atomic
def promotion_complete(*, promotion: PromotionRequest, actor) -> PromotionRequest:
    """Promote an approved request whose remaining (non-human) gates are now met."""
    promotion = _lock(promotion)
    _require_active(promotion)
    if not access.can_request_promotion(actor, promotion.version) and not has_role(actor, Role.RISK_OFFICER):
        raise Forbidden("Only the model's data scientists or risk officers complete a promotion.")
    _require_unchanged(promotion)
    missing = [i["label"] for i in promotion_checklist(promotion=promotion) if not i["met"]]
    if missing:
        raise Conflict("Gates are still missing: " + "; ".join(missing), fields={"gates": missing})
    _promote(promotion, actor)
    return promotion


def _promote(promotion: PromotionRequest, actor) -> None:
    """Change the stage under row locks on all the model's versions: the previous production
    version is archived first, so the one-production-version constraint always holds."""
    version = promotion.version
    locked = {v.pk: v for v in ModelVersion.objects.select_for_update().select_related("model").filter(model_id=version.model_id).order_by("pk")}
    target = locked[version.pk]
    if target.stage != promotion.from_stage:
        raise Conflict(f"{target} is now in {target.stage}, not {promotion.from_stage}; request again.")
    approvers = [s.approver.get_username() for s in promotion.signoffs.select_related("approver")
                 if s.decision == SignOff.Decision.APPROVE and s.lapsed_at is None]
    evidence = {"promotion": promotion.pk, "approved_by": approvers, "policy_version": promotion.policy.number}
    if promotion.target_stage == Stage.PRODUCTION:
        for other in locked.values():
            if other.pk != target.pk and other.stage == Stage.PRODUCTION:
                model_version_set_stage(version=other, stage=Stage.ARCHIVED, actor=actor,
                                        reason=f"replaced in production by v{target.number}", evidence=evidence)
    model_version_set_stage(version=target, stage=promotion.target_stage, actor=actor,
                            reason=f"promotion #{promotion.pk} approved", evidence=evidence)
    promotion.status = PromotionRequest.Status.PROMOTED
    promotion.decided_at = timezone.now()
    promotion.save(update_fields=["status", "decided_at"])
    promotion.version = target
    _close_stale(version_ids=[v.pk for v in locked.values()], actor=actor)
    _notify_decided(promotion)
    audit_record(action="promotion.promote", actor=actor, obj=promotion,
                 changes={"status": {"before": "open", "after": "promoted"}, "approved_by": {"before": None, "after": approvers}})


def _close_stale(*, version_ids, actor) -> None:
    """Requests made from a stage the version has since left can never complete: they lapse.

    Rows another approval holds are skipped: waiting for them while holding the audit chain lock
    would deadlock, and that approval fails on the stage check anyway."""
    stale = (
        PromotionRequest.objects.select_for_update(of=("self",), skip_locked=True).select_related("version")
        .filter(version_id__in=version_ids, status__in=PromotionRequest.ACTIVE)
    )
    for other in stale:
        if other.from_stage == other.version.stage:
            continue
        other.status = PromotionRequest.Status.LAPSED
        other.decided_at = timezone.now()
        other.save(update_fields=["status", "decided_at"])
        audit_record(action="promotion.lapse", actor=actor, obj=other,
                     changes={"status": {"before": "open", "after": "lapsed"},
                              "reason": {"before": None, "after": f"version is now {other.version.stage}"}})


@transaction.atomic
def promotion_reject(*, promotion: PromotionRequest, actor, comment: str) -> PromotionRequest:
    promotion = _lock(promotion)
    _require_active(promotion)
    capacities = _require_may_sign(promotion, actor)
    if not (comment or "").strip():
        raise InvalidInput("Say why you reject.", fields={"comment": ["A comment is required to reject."]})
    if promotion.signoffs.filter(approver=actor).exists():
        raise Conflict("You have already signed off this request.")
    SignOff.objects.create(
        promotion=promotion, approver=actor, decision=SignOff.Decision.REJECT, comment=comment,
        sha256=promotion.sha256, policy=promotion.policy, approver_roles=sorted(capacities),
    )
    before = promotion.status
    promotion.status = PromotionRequest.Status.REJECTED
    promotion.decided_at = timezone.now()
    promotion.save(update_fields=["status", "decided_at"])
    audit_record(action="signoff.reject", actor=actor, obj=promotion,
                 changes={"status": {"before": before, "after": "rejected"}, "comment": {"before": None, "after": comment}})
    _notify_decided(promotion)
    return promotion


@transaction.atomic
def promotion_withdraw(*, promotion: PromotionRequest, actor) -> PromotionRequest:
    promotion = _lock(promotion)
    if not access.can_withdraw(actor, promotion):
        raise Forbidden("Only the requester withdraws a promotion request.")
    _require_active(promotion)
    before = promotion.status
    promotion.status = PromotionRequest.Status.WITHDRAWN
    promotion.decided_at = timezone.now()
    promotion.save(update_fields=["status", "decided_at"])
    audit_record(action="promotion.withdraw", actor=actor, obj=promotion,
                 changes={"status": {"before": before, "after": "withdrawn"}})
    return promotion


@transaction.atomic
def promotions_lapse(*, version: ModelVersion, actor=None, reason: str = "") -> int:
    """The version's artifact or lineage changed: its open requests and their approvals lapse."""
    now = timezone.now()
    count = 0
    for promotion in PromotionRequest.objects.select_for_update().filter(version=version, status__in=PromotionRequest.ACTIVE):
        if promotion.sha256 == version.sha256 and promotion.lineage_fingerprint == lineage_fingerprint(version):
            continue
        lapsed = promotion.signoffs.filter(lapsed_at__isnull=True).update(lapsed_at=now)
        before = promotion.status
        promotion.status = PromotionRequest.Status.LAPSED
        promotion.decided_at = now
        promotion.save(update_fields=["status", "decided_at"])
        audit_record(action="promotion.lapse", actor=actor, obj=promotion,
                     changes={"status": {"before": before, "after": "lapsed"},
                              "reason": {"before": None, "after": reason},
                              "lapsed_signoffs": {"before": None, "after": lapsed}})
        count += 1
    return count


# --- periodic reviews -----------------------------------------------------------------------


def review_interval_days(*, policy: Policy, tier: int) -> int:
    return int(policy.data.get("review_interval_days", {}).get(str(tier), 365))


@transaction.atomic
def reviews_open_due(*, today: date | None = None) -> list[Review]:
    """Open a review for each production version whose interval (by its use case's tier, under
    the policy in force) has run out since it entered production or was last reviewed.
    Idempotent: at most one open review per version (a constraint backs the check)."""
    today = today or timezone.localdate()
    policy = policy_current()
    opened = []
    versions = ModelVersion.objects.filter(stage=Stage.PRODUCTION).select_related("model__use_case")
    for version in versions:
        if Review.objects.filter(version=version, status=Review.Status.OPEN).exists():
            continue
        classification = classification_current(use_case=version.model.use_case)
        tier = classification.tier if classification else 4
        last_review = Review.objects.filter(version=version, status=Review.Status.DONE).order_by("-completed_at").first()
        promoted = version.promotions.filter(status=PromotionRequest.Status.PROMOTED, target_stage=Stage.PRODUCTION).order_by("-decided_at").first()
        anchor = max(
            [d for d in (
                last_review.completed_at if last_review else None,
                promoted.decided_at if promoted else None,
            ) if d] or [version.updated_at]
        )
        due = timezone.localdate(anchor) + timedelta(days=review_interval_days(policy=policy, tier=tier))
        if due > today:
            continue
        try:
            with transaction.atomic():
                review = Review.objects.create(version=version, due_date=due)
        except IntegrityError:
            continue  # opened by a concurrent run
        audit_record(action="review.open", obj=review,
                     changes={"version": {"before": None, "after": str(version)}, "due_date": {"before": None, "after": due},
                              "tier": {"before": None, "after": tier}})
        opened.append(review)
    return opened


@transaction.atomic
def review_open_early(*, version: ModelVersion, reason: str, actor=None) -> Review | None:
    """Open a periodic review now, before its interval runs out (e.g. a monitoring alert where
    the tier's policy asks for one). None if the version already has an open review."""
    if Review.objects.filter(version=version, status=Review.Status.OPEN).exists():
        return None
    try:
        with transaction.atomic():
            review = Review.objects.create(version=version, due_date=timezone.localdate())
    except IntegrityError:
        return None  # opened concurrently
    audit_record(action="review.open", actor=actor, obj=review,
                 changes={"version": {"before": None, "after": str(version)}, "due_date": {"before": None, "after": review.due_date},
                          "reason": {"before": None, "after": reason}})
    return review


@transaction.atomic
def review_complete(*, actor, review: Review, note: str) -> Review:
    if not access.can_review(actor):
        raise Forbidden("Only risk officers complete periodic reviews.")
    review = Review.objects.select_for_update().get(pk=review.pk)
    if review.status != Review.Status.OPEN:
        raise Conflict("This review is already done.")
    if not (note or "").strip():
        raise InvalidInput("Record what the review found.", fields={"note": ["Required."]})
    review.status = Review.Status.DONE
    review.note = note
    review.completed_by = actor
    review.completed_at = timezone.now()
    review.save(update_fields=["status", "note", "completed_by", "completed_at"])
    audit_record(action="review.complete", actor=actor, obj=review,
                 changes={"status": {"before": "open", "after": "done"}, "note": {"before": None, "after": note}})
    return review


# --- model card text -----------------------------------------------------------------------


@transaction.atomic
def model_card_update(
    *, actor, version: ModelVersion, intended_use: str | None = None, limitations: str | None = None,
    bias_report: dict | None = None,
) -> ModelCardText:
    """Edit the free-text sections and the bias report of a version's model card."""
    from registry import access as registry_access

    if not registry_access.model_can_write(actor, version.model):
        raise Forbidden("Only the model's data scientists write its model card.")
    if bias_report is not None:
        ok = isinstance(bias_report, dict) and all(
            isinstance(metrics, dict) and metrics
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values())
            for metrics in bias_report.values()
        )
        if not ok:
            raise InvalidInput("Invalid bias report.", fields={"bias_report": [
                "An object {subpopulation: {metric: number}} with at least one metric per subpopulation."
            ]})
    text, _ = ModelCardText.objects.select_for_update().get_or_create(version=version)
    fields = ["intended_use", "limitations", "bias_report"]
    before = {f: getattr(text, f) for f in fields}
    if intended_use is not None:
        text.intended_use = intended_use
    if limitations is not None:
        text.limitations = limitations
    if bias_report is not None:
        text.bias_report = bias_report
    text.updated_by = actor
    text.save(update_fields=[*fields, "updated_by", "updated_at"])
    changes = diff(before, {f: getattr(text, f) for f in fields})
    if changes:
        audit_record(action="model_card.update", actor=actor, obj=version, changes=changes)
    return text
