"""Periodic reviews of production versions: opened when the interval of the use case's tier
under the policy in force runs out (beat, `tasks.reviews_open_due_task`), or early (a monitoring
alert), and completed by a risk officer with a note.
"""

from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, Forbidden, InvalidInput
from core.refusals import refusals_audited
from registry.models import ModelVersion, Stage

from . import access
from .models import Policy, PromotionRequest, Review
from .selectors import classification_current, policy_current


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
