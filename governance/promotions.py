"""Promotions and sign-offs: request a move one stage forward (or to archive), approve, reject,
withdraw, complete. The stage changes here and nowhere else: the approval that completes every
gate of the request's policy version promotes in its own transaction (`checklist` says what is
met, `approvals` who may sign).
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, Forbidden, InvalidInput
from core.refusals import refusals_audited
from registry.models import STAGE_ORDER, ModelVersion, Proposal, Stage
from registry.services import model_version_set_stage

from . import access, approvals
from .checklist import promotion_checklist
from .evidence import lineage_fingerprint
from .models import PromotionRequest, SignOff
from .notify import promotion_decided, promotion_requested
from .selectors import classification_current, policy_current


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
    promotion_requested(promotion=promotion)
    return promotion


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
    promotion_decided(promotion=promotion)
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
    promotion_decided(promotion=promotion)
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
