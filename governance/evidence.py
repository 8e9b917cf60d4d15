"""What an approval vouches for, and what happens when it changes.

A promotion request records the version's SHA-256 and a fingerprint of its lineage and model
card (`lineage_fingerprint`); when any of it changes (`evidence_changed`, called by the
registry's `lineage_changed` signal, the model card and other apps' evidence), the open requests
and their approvals lapse and a production version is flagged for review.
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from registry.models import ModelVersion, Stage

from .models import ModelCardText, PromotionRequest, Review

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
