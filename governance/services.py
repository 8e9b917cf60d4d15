"""Governance services: classification, policy, RACI, the promotion/sign-off workflow, reviews.

Each state change is one keyword-only function: permission check, one transaction, one audit
event written with `audit_record` in that transaction.
"""

import copy
import hashlib
import json
import logging
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record, diff
from core.errors import Conflict, Forbidden, InvalidInput
from core.refusals import refusals_audited
from registry.models import STAGE_ORDER, ModelVersion, Proposal, Stage, UseCase
from registry.services import model_version_set_stage

from . import access, approvals, defaults, scoring
from .gates import all_gates, blockers, evaluate_gate, get_gate
from .models import (
    Classification,
    GateException,
    ModelCardText,
    Policy,
    PromotionRequest,
    RaciMatrix,
    Review,
    ScoringScheme,
    SignOff,
)

logger = logging.getLogger(__name__)

# What an approvals measure may ask for (see governance.approvals).
APPROVAL_ROLES = set(approvals.SLOT_ROLES)


# --- selectors -----------------------------------------------------------------------------


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


# Evidence other apps hold (fairness: the bias report): `key -> callable(version) -> JSON or None`.
# Each non-None value joins the fingerprint, so a new or changed one lapses open requests.
EVIDENCE_PROVIDERS: dict = {}


def lineage_fingerprint(version: ModelVersion) -> str:
    """SHA-256 over the evidence an approval vouches for: artifact, every lineage link (training
    and validation datasets with their provenance), code, and the model card's content and bias
    report. Changing any of it lapses open requests (`evidence_changed`)."""
    datasets = lambda rel: sorted(  # noqa: E731
        [d.name, d.version, d.sha256, d.source_uri, d.contains_personal_data, d.legal_basis]
        for d in getattr(version, rel).all()
    )
    card = ModelCardText.objects.filter(version=version).first()
    content = {
        "sha256": version.sha256,
        "training": datasets("training_datasets"),
        "validation": datasets("validation_datasets"),
        "code_repository": version.code_repository,
        "code_commit": version.code_commit,
        "card": {
            "intended_use": card.intended_use if card else "",
            "limitations": card.limitations if card else "",
            "bias_report": card.bias_report if card else {},
        },
    }
    extra = {key: value for key, provider in sorted(EVIDENCE_PROVIDERS.items()) if (value := provider(version)) is not None}
    if extra:  # absent when no app holds evidence, so fingerprints stored before stay valid
        content["evidence"] = extra
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


def measure_text(measure: dict) -> str:
    """A measure's text, generated from its structured form where it has one (approvals), so
    the rule and its description cannot disagree."""
    if measure.get("gate") == "approvals":
        params = measure.get("params") or {}
        return approvals.describe(params.get("role", "any"), int(params.get("count", 1)), measure.get("stages"))
    return measure.get("text", "")


def promotion_checklist(*, promotion: PromotionRequest) -> list[dict]:
    """[{key, label, met, detail, evidence_url, consideration, params, exception}] judged against
    the promotion's own policy version. A gate with a risk officer's exception in force counts as
    met and says so; approvals never take exceptions."""
    result = []
    waived = exceptions_in_force(version=promotion.version)
    for measure in _measures(promotion):
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
            item["exception"] = _exception_body(exception)
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


# --- classification and scoring -----------------------------------------------------------


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


def _effective_tier(current: Classification | None) -> int:
    return current.tier if current else 0


def _supersede(*, kind: str, use_case: UseCase, model=None) -> None:
    Proposal.objects.filter(kind=kind, use_case=use_case, model=model, status=Proposal.Status.PENDING).update(
        status=Proposal.Status.SUPERSEDED, decided_at=timezone.now()
    )


def _propose(*, actor, kind: str, use_case: UseCase, payload: dict, summary: str, model=None, target_use_case=None) -> Proposal:
    """Store a proposal (superseding a pending one of the same kind), audit it, tell risk officers."""
    _supersede(kind=kind, use_case=use_case, model=model)
    proposal = Proposal.objects.create(
        kind=kind, use_case=use_case, model=model, target_use_case=target_use_case, payload=payload,
        summary=summary[:500], proposed_by=actor,
    )
    audit_record(action="proposal.create", actor=actor, obj=proposal,
                 changes={"kind": {"before": None, "after": kind}, "summary": {"before": None, "after": proposal.summary},
                          "payload": {"before": None, "after": payload}})
    from .notify import proposal_created

    transaction.on_commit(lambda: proposal_created(proposal_id=proposal.pk))
    return proposal


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


def _classification_apply(*, use_case, scheme, payload: dict, created_by, confirmed_by=None, action="classification.submit",
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
    audit_record(action=action, actor=audit_actor or created_by, obj=use_case, changes=diff_changes(changes))
    return classification


def diff_changes(changes: dict) -> dict:
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
        _supersede(kind=Proposal.Kind.CLASSIFICATION, use_case=use_case)
        return _classification_apply(
            use_case=use_case, scheme=scheme, payload=payload, created_by=actor,
            action="classification.override" if override_tier is not None else "classification.submit",
        )
    summary = (f"Classify as tier {new_tier}" if current is None
               else f"Lower the tier from {current.tier} to {new_tier}")
    return _propose(actor=actor, kind=Proposal.Kind.CLASSIFICATION, use_case=use_case, payload=payload, summary=summary)


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
    _supersede(kind=Proposal.Kind.CLASSIFICATION, use_case=use_case)
    return _classification_apply(use_case=use_case, scheme=current.scheme, payload=payload, created_by=actor,
                                 action="classification.override")


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


def _with_generated_texts(data: dict) -> dict:
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
    data = _with_generated_texts(data)
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


def _approver_problems(cells: dict, assignments: dict[str, list[int]]) -> dict:
    """A RACI may make Accountable or Responsible for a task that approves moves only people
    whose role may approve (not auditors, not people without a role)."""
    from django.contrib.auth.models import Group

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


def _raci_apply(*, raci: RaciMatrix, cells: dict, assignments: dict, actor, proposer=None) -> RaciMatrix:
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
    new_cells = cells if cells is not None else raci.cells
    if not errors:
        errors = _approver_problems(new_cells, resolved)
    if errors:
        raise InvalidInput("The RACI matrix is invalid.", fields=errors)
    approvers_change = _approvers_by_task(raci.cells, raci.assignments) != _approvers_by_task(new_cells, resolved)
    if approvers_change and not access.applies_directly(actor, use_case):
        tasks = ", ".join(defaults.RACI_TASKS[t] for t in sorted(set(defaults.STAGE_TASK.values())))
        return _propose(actor=actor, kind=Proposal.Kind.RACI, use_case=use_case,
                        payload={"cells": new_cells, "assignments": resolved},
                        summary=f"Change who approves moves ({tasks})")
    if approvers_change:
        _supersede(kind=Proposal.Kind.RACI, use_case=use_case)
    return _raci_apply(raci=raci, cells=new_cells, assignments=resolved, actor=actor)


# --- proposals (four eyes on governance data) ---------------------------------------------------


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
        _classification_apply(use_case=proposal.use_case, scheme=scheme, payload=payload, created_by=proposal.proposed_by,
                              confirmed_by=actor, audit_actor=actor)
    elif proposal.kind == Proposal.Kind.RACI:
        raci = raci_for(use_case=proposal.use_case)
        if raci.pk:
            raci = RaciMatrix.objects.select_for_update().get(pk=raci.pk)
        _raci_apply(raci=raci, cells=proposal.payload["cells"], assignments=proposal.payload["assignments"],
                    actor=actor, proposer=proposal.proposed_by)
    else:
        from registry.services import model_move_apply

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


# --- exceptions to a gate ---------------------------------------------------------------------


def _exception_body(exception: GateException) -> dict:
    return {"id": exception.pk, "gate": exception.gate, "justification": exception.justification,
            "granted_by": exception.granted_by.get_username(), "expires_at": exception.expires_at.isoformat(),
            "scope": f"version {exception.version_id}" if exception.version_id else f"use case {exception.use_case_id}"}


def exceptions_in_force(*, version: ModelVersion) -> dict[str, GateException]:
    """{gate: exception} in force for this version (its own, else its use case's)."""
    now = timezone.now()
    found = (GateException.objects.filter(Q(version=version) | Q(use_case_id=version.model.use_case_id))
             .filter(revoked_at__isnull=True, expires_at__gt=now).select_related("granted_by").order_by("-expires_at"))
    result = {}
    for exception in found:
        current = result.get(exception.gate)
        if current is None or (exception.version_id and not current.version_id):
            result[exception.gate] = exception
    return result


@refusals_audited("gate_exception.grant")
@transaction.atomic
def gate_exception_grant(*, actor, gate: str, justification: str, expires_at, version: ModelVersion | None = None,
                         use_case: UseCase | None = None) -> GateException:
    """A risk officer waives one gate for one version (or one use case) until `expires_at`."""
    if not access.can_grant_exception(actor):
        raise Forbidden("Only risk officers grant exceptions to a gate.")
    errors = {}
    if (version is None) == (use_case is None):
        errors["scope"] = ["Name one model version or one use case."]
    if gate == "approvals":
        errors["gate"] = ["Human sign-off cannot be waived."]
    elif get_gate(gate) is not None and get_gate(gate).blocking:
        errors["gate"] = ["This gate applies to every move and cannot be waived."]
    elif gate not in all_gates() and gate not in _policy_gates():
        errors["gate"] = ["Unknown gate."]
    if not (justification or "").strip():
        errors["justification"] = ["Say why the gate may be skipped."]
    now = timezone.now()
    if expires_at is None or expires_at <= now:
        errors["expires_at"] = ["Must be in the future."]
    elif expires_at > now + timedelta(days=MAX_EXCEPTION_DAYS):
        errors["expires_at"] = [f"At most {MAX_EXCEPTION_DAYS} days ahead; grant a new one when it runs out."]
    if errors:
        raise InvalidInput("Invalid exception.", fields=errors)
    owner_ids = {(version.model.use_case if version else use_case).owner_id}
    if version is not None:
        owner_ids |= {version.model.owner_id, version.created_by_id}
    if actor.pk in owner_ids:
        raise Forbidden("You own this model or use case; another risk officer must grant its exceptions.")
    exception = GateException.objects.create(gate=gate, version=version, use_case=use_case, justification=justification.strip(),
                                             expires_at=expires_at, granted_by=actor)
    audit_record(action="gate_exception.grant", actor=actor, obj=exception,
                 changes={"gate": {"before": None, "after": gate},
                          "scope": {"before": None, "after": str(version or use_case)},
                          "justification": {"before": None, "after": exception.justification},
                          "expires_at": {"before": None, "after": expires_at}})
    return exception


@refusals_audited("gate_exception.revoke")
@transaction.atomic
def gate_exception_revoke(*, actor, exception: GateException) -> GateException:
    if not access.can_grant_exception(actor):
        raise Forbidden("Only risk officers revoke exceptions to a gate.")
    exception = GateException.objects.select_for_update().get(pk=exception.pk)
    if exception.revoked_at:
        raise Conflict("This exception is already revoked.")
    exception.revoked_at, exception.revoked_by = timezone.now(), actor
    exception.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(action="gate_exception.revoke", actor=actor, obj=exception,
                 changes={"revoked_at": {"before": None, "after": exception.revoked_at}})
    return exception


MAX_EXCEPTION_DAYS = 180


def _policy_gates() -> set[str]:
    return {m.get("gate") for rules in policy_current().data.get("tiers", {}).values()
            for measures in rules.values() for m in measures if m.get("gate")}


# --- promotions and sign-offs ---------------------------------------------------------------


@refusals_audited("promotion.request")
@transaction.atomic
def promotion_request(
    *, actor, version: ModelVersion, target_stage: str, reason: str = "", adoption: bool = False
) -> PromotionRequest:
    """Ask to move `version` one stage forward (or to archive), judged against the policy in force.
    `adoption`: opened by an experiment's "adopt" decision, in the name of the person who signed
    it (who must be entitled to accept models of this use case)."""
    allowed = access.can_request_promotion(actor, version) or (
        adoption and access.can_accept_model(actor, version.model.use_case)
    )
    if not allowed:
        raise Forbidden("Only the model's data scientists request its promotions.")
    if target_stage not in Stage.values:
        raise InvalidInput("Unknown stage.", fields={"target_stage": [f"Unknown stage {target_stage!r}; one of {', '.join(Stage.values)}."]})
    # Lock order (docs/architecture.md): the version row only, not its model's or use case's.
    version = ModelVersion.objects.select_for_update(of=("self",)).select_related("model__use_case").get(pk=version.pk)
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
        waiting = Proposal.objects.filter(kind=Proposal.Kind.CLASSIFICATION, use_case=version.model.use_case,
                                          status=Proposal.Status.PENDING).exists()
        message = (f"The classification of '{version.model.use_case}' waits for a risk officer's confirmation; "
                   "its models cannot be promoted until then." if waiting
                   else f"Classify the use case '{version.model.use_case}' before promoting its models.")
        raise Conflict(message, fields={"use_case": ["Not confirmed yet." if waiting else "Not classified yet."]})
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


@refusals_audited("signoff.approve")
@transaction.atomic
def signoff_approve(*, promotion: PromotionRequest, actor, comment: str = "") -> PromotionRequest:
    """Approve; when every gate of the request's policy version is then met, promote in the same
    transaction — recorded as the system's action on the approvals' behalf, not the approver's.
    The promotion row lock serialises concurrent approvals, so only one promotes."""
    promotion = _lock(promotion)
    _require_active(promotion)
    if promotion.signoffs.filter(approver=actor).exists():
        raise Conflict("You have already signed off this request.")
    capacities = approvals.require_may_approve(promotion, actor)
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
        _promote(promotion, None)
    elif all(item["met"] for item in checklist if item["key"] == "approvals") and promotion.status != PromotionRequest.Status.APPROVED:
        promotion.status = PromotionRequest.Status.APPROVED
        promotion.save(update_fields=["status"])
        audit_record(action="promotion.approved", actor=actor, obj=promotion,
                     changes={"status": {"before": "open", "after": "approved"},
                              "missing": {"before": None, "after": [i["key"] for i in checklist if not i["met"]]}})
    return promotion


@refusals_audited("promotion.complete")
@transaction.atomic
def promotion_complete(*, promotion: PromotionRequest, actor) -> PromotionRequest:
    """Promote an approved request whose remaining (non-human) gates are now met."""
    promotion = _lock(promotion)
    _require_active(promotion)
    if not access.can_complete(actor, promotion):
        raise Forbidden("Only the model's data scientists or risk officers complete a promotion.")
    _require_unchanged(promotion)
    missing = [i["label"] for i in promotion_checklist(promotion=promotion) if not i["met"]]
    if missing:
        raise Conflict("Gates are still missing: " + "; ".join(missing), fields={"gates": missing})
    _promote(promotion, actor)
    return promotion


def _promote(promotion: PromotionRequest, actor) -> None:
    """Change the stage under row locks on all the model's versions: the previous production
    version is archived first, so the one-production-version constraint always holds.

    `actor` None: the system promotes on the approvals' behalf (the last approval completed
    the gates); the approvers are named in the evidence."""
    version = promotion.version
    # Lock order (docs/architecture.md): the model's version rows in pk order, not the model row.
    locked = {v.pk: v for v in ModelVersion.objects.select_for_update(of=("self",)).select_related("model").filter(model_id=version.model_id).order_by("pk")}
    target = locked[version.pk]
    if target.stage != promotion.from_stage:
        raise Conflict(f"{target} is now in {target.stage}, not {promotion.from_stage}; request again.")
    approvers = [s.approver.get_username() for s in promotion.signoffs.select_related("approver")
                 if s.decision == SignOff.Decision.APPROVE and s.lapsed_at is None]
    evidence = {"promotion": promotion.pk, "approved_by": approvers, "policy_version": promotion.policy.number,
                "on_behalf_of": "approvals" if actor is None else actor.get_username()}
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


@refusals_audited("signoff.reject")
@transaction.atomic
def promotion_reject(*, promotion: PromotionRequest, actor, comment: str) -> PromotionRequest:
    promotion = _lock(promotion)
    _require_active(promotion)
    capacities = approvals.require_may_reject(promotion, actor)
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


@refusals_audited("promotion.withdraw")
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
def evidence_changed(*, version: ModelVersion, actor=None, reason: str = "") -> int:
    """Evidence an approval vouched for changed (artifact, lineage, model card, bias report):
    open requests lapse, and a version in production is flagged for review (an open review due
    today, unless one is open already). Returns the number of lapsed requests."""
    count = promotions_lapse(version=version, actor=actor, reason=reason)
    if version.stage == Stage.PRODUCTION and not Review.objects.filter(version=version, status=Review.Status.OPEN).exists():
        try:
            with transaction.atomic():
                review = Review.objects.create(version=version, due_date=timezone.localdate(), reason=f"evidence changed: {reason}"[:300])
        except IntegrityError:
            return count
        audit_record(action="review.open", actor=actor, obj=review,
                     changes={"version": {"before": None, "after": str(version)},
                              "due_date": {"before": None, "after": review.due_date},
                              "reason": {"before": None, "after": review.reason}})
    return count


@transaction.atomic
def promotions_lapse(*, version: ModelVersion, actor=None, reason: str = "") -> int:
    """The version's evidence changed: its open requests and their approvals lapse."""
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


@refusals_audited("review.complete")
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


@refusals_audited("model_card.update")
@transaction.atomic
def model_card_update(
    *, actor, version: ModelVersion, intended_use: str | None = None, limitations: str | None = None,
    bias_report: dict | None = None,
) -> ModelCardText:
    """Edit the free-text sections and the bias report of a version's model card. They are
    evidence: a change lapses open requests and flags a production version for review."""
    if not access.can_edit_model_card(actor, version):
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
        evidence_changed(version=version, actor=actor, reason=f"model card changed ({', '.join(sorted(changes))})")
    return text
