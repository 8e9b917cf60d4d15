"""Issue 8, point 3: evidence is immutable once it is evidence. A dataset a version references is
frozen; the model card and bias report are part of the fingerprint approvals are bound to."""

import pytest

from audit.models import AuditEvent
from core.errors import Conflict
from governance.card import model_card_update
from governance.classification import classification_submit
from governance.evidence import lineage_fingerprint
from governance.models import Review
from governance.promotions import promotion_request, signoff_approve
from registry import services as registry

from .conftest import answers


def test_patching_the_training_data_of_a_production_version_is_refused(tier1, cast, advance, api):
    advance(tier1["version"], "production")
    dataset = tier1["datasets"][0]
    r = api("dana").patch(f"/api/v1/datasets/{dataset.pk}/", {"sha256": "f" * 64, "source_uri": "s3://elsewhere"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "dataset_frozen"
    assert "new dataset version" in r.json()["detail"] and set(r.json()["errors"]) == {"sha256", "source_uri"}
    dataset.refresh_from_db()
    assert dataset.sha256 != "f" * 64 and dataset.source_uri == "s3://a"
    # The description is not evidence; it may still be improved.
    assert api("dana").patch(f"/api/v1/datasets/{dataset.pk}/", {"description": "accounts"}, format="json").status_code == 200


def test_validation_datasets_are_frozen_too(inventory, cast):
    holdout = registry.dataset_create(actor=cast["dana"], name="holdout", version="1", source_uri="s3://h", sha256="c" * 64)
    registry.model_version_register(actor=cast["dana"], model=inventory["model"], artifact_uri="s3://v2", sha256="2" * 64,
                                    validation_datasets=[holdout])
    with pytest.raises(Conflict):
        registry.dataset_update(actor=cast["dana"], dataset=holdout, sha256="d" * 64)


def test_fingerprint_covers_validation_lineage_card_and_bias_report(tier1, cast):
    version = tier1["version"]
    before = lineage_fingerprint(version)
    model_card_update(actor=cast["dana"], version=version, intended_use="Limits")
    after_card = lineage_fingerprint(version)
    model_card_update(actor=cast["dana"], version=version, bias_report={"a": {"auc": 0.7}, "b": {"auc": 0.71}})
    assert len({before, after_card, lineage_fingerprint(version)}) == 3


def test_editing_the_card_after_sign_off_flags_the_production_version_for_review(tier1, cast, advance):
    version = advance(tier1["version"], "production")
    model_card_update(actor=cast["dana"], version=version, limitations="Now also for SMEs")
    review = Review.objects.get(version=version, status="open")
    assert review.reason.startswith("evidence changed: model card changed")
    assert AuditEvent.objects.filter(action="review.open", object_id=str(review.pk)).exists()


def test_promotion_is_recorded_as_the_systems_action_on_the_approvals_behalf(inventory, cast):
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    p = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    signoff_approve(promotion=p, actor=cast["omar"], comment="ok")
    approve = AuditEvent.objects.get(action="signoff.approve", object_id=str(p.pk))
    promote = AuditEvent.objects.get(action="promotion.promote", object_id=str(p.pk))
    stage = AuditEvent.objects.filter(action="model_version.stage_change").latest("seq")
    assert approve.actor_username == "omar"
    assert promote.actor_id is None and promote.actor_username == ""
    assert stage.actor_id is None and stage.changes["approved_by"]["after"] == ["omar"]
    assert stage.changes["on_behalf_of"]["after"] == "approvals"
