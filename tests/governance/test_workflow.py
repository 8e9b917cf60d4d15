"""The promotion and sign-off workflow: stages, separation of duties, policy versions, lapses."""

import pytest

from audit.models import AuditEvent
from core.errors import Conflict, Forbidden, InvalidInput
from governance.card import model_card_update
from governance.checklist import promotion_checklist
from governance.classification import classification_override
from governance.models import PromotionRequest
from governance.policy import policy_update
from governance.promotions import (
    promotion_complete,
    promotion_reject,
    promotion_request,
    promotion_withdraw,
    signoff_approve,
)
from governance.raci import raci_update
from governance.selectors import policy_current
from registry import services as registry
from registry.models import ModelVersion


def test_request_then_approval_promotes_with_evidence(tier1, cast):
    version = tier1["version"]
    p = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    assert p.status == "open" and p.policy.number == 1 and p.sha256 == version.sha256
    checklist = promotion_checklist(promotion=p)
    assert [(i["key"], i["met"]) for i in checklist] == [("approvals", False)]
    signoff_approve(promotion=p, actor=cast["rita"], comment="fine")
    version.refresh_from_db()
    p.refresh_from_db()
    assert version.stage == "qa" and p.status == "promoted"
    event = AuditEvent.objects.filter(action="model_version.stage_change").latest("seq")
    assert event.changes["approved_by"]["after"] == ["rita"]
    assert event.changes["policy_version"]["after"] == 1
    assert event.changes["promotion"]["after"] == p.pk


def test_unknown_stage_and_skipping_are_400(tier1, cast):
    version = tier1["version"]
    with pytest.raises(InvalidInput) as exc:
        promotion_request(actor=cast["dana"], version=version, target_stage="heaven")
    assert "target_stage" in exc.value.fields
    with pytest.raises(InvalidInput) as exc:
        promotion_request(actor=cast["dana"], version=version, target_stage="production")
    assert "qa" in exc.value.fields["target_stage"][0]
    with pytest.raises(InvalidInput):
        promotion_request(actor=cast["dana"], version=version, target_stage="development")
    assert not PromotionRequest.objects.exists()


def test_unclassified_use_case_cannot_be_promoted(inventory, cast):
    with pytest.raises(Conflict):
        promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")


def test_duplicate_open_request_conflicts(tier1, cast):
    promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    with pytest.raises(Conflict):
        promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")


def test_only_model_writers_request(tier1, cast):
    for who in ("sam", "rita", "audrey", "nobody"):
        with pytest.raises(Forbidden):
            promotion_request(actor=cast[who], version=tier1["version"], target_stage="qa")


def test_requester_can_never_approve_even_as_risk_officer(tier1, cast, make_user):
    # root (admin) requests; root may not approve its own request.
    p = promotion_request(actor=cast["root"], version=tier1["version"], target_stage="qa")
    with pytest.raises(Forbidden) as exc:
        signoff_approve(promotion=p, actor=cast["root"])
    assert "requested" in exc.value.message


def test_version_creator_can_never_approve(tier1, cast):
    p = promotion_request(actor=cast["root"], version=tier1["version"], target_stage="qa")
    with pytest.raises(Forbidden) as exc:
        signoff_approve(promotion=p, actor=cast["dana"])
    assert "created this model version" in exc.value.message
    with pytest.raises(Forbidden):
        promotion_reject(promotion=p, actor=cast["dana"], comment="no")


def test_people_named_by_neither_policy_nor_raci_cannot_approve(tier1, cast, strict_policy):
    strict_policy()
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    # The policy asks for risk officers: a data scientist fills none of the slots; auditors and
    # people without a role never sign.
    with pytest.raises(Forbidden) as exc:
        signoff_approve(promotion=p, actor=cast["sam"])
    assert exc.value.message == "The approvals still needed are from risk officer; your approval would fill none of them."
    for who in ("audrey", "nobody"):
        with pytest.raises(Forbidden) as exc:
            signoff_approve(promotion=p, actor=cast[who])
        assert "does not sign off" in exc.value.message


def test_raci_accountable_may_approve_without_policy_role(tier1, cast, strict_policy):
    strict_policy(count=1, role="accountable")
    # A risk officer (not the owner) changes who approves: it applies at once.
    raci_update(actor=cast["omar"], use_case=tier1["use_case"], assignments={"risk_audit": ["sam"]})
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    # rita holds a Steward role but the policy names only the RACI Accountable: her approval does not count.
    with pytest.raises(Forbidden):
        signoff_approve(promotion=p, actor=cast["rita"])
    signoff_approve(promotion=p, actor=cast["sam"])
    p.refresh_from_db()
    assert p.status == "promoted"


def test_approving_twice_conflicts(tier1, cast, strict_policy):
    strict_policy(count=2)
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    signoff_approve(promotion=p, actor=cast["rita"])
    with pytest.raises(Conflict):
        signoff_approve(promotion=p, actor=cast["rita"])
    signoff_approve(promotion=p, actor=cast["omar"])
    tier1["version"].refresh_from_db()
    assert tier1["version"].stage == "qa"


def test_approving_withdrawn_rejected_or_promoted_conflicts(tier1, cast, strict_policy):
    strict_policy(count=1)
    version = tier1["version"]
    p = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    promotion_withdraw(promotion=p, actor=cast["dana"])
    with pytest.raises(Conflict):
        signoff_approve(promotion=p, actor=cast["rita"])
    with pytest.raises(Conflict):
        promotion_withdraw(promotion=p, actor=cast["dana"])

    p2 = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    with pytest.raises(InvalidInput):
        promotion_reject(promotion=p2, actor=cast["rita"], comment="")
    promotion_reject(promotion=p2, actor=cast["rita"], comment="Metrics too weak")
    with pytest.raises(Conflict):
        signoff_approve(promotion=p2, actor=cast["omar"])

    p3 = promotion_request(actor=cast["dana"], version=version, target_stage="qa")  # resubmitted
    signoff_approve(promotion=p3, actor=cast["rita"])
    with pytest.raises(Conflict):
        signoff_approve(promotion=p3, actor=cast["omar"])
    assert [p.status for p in PromotionRequest.objects.order_by("pk")] == ["withdrawn", "rejected", "promoted"]


def test_only_requester_withdraws(tier1, cast):
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    with pytest.raises(Forbidden):
        promotion_withdraw(promotion=p, actor=cast["rita"])


def test_promotion_is_judged_against_policy_in_force_when_requested(tier1, cast, strict_policy):
    old = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    strict_policy(count=2)  # policy v2: two risk-officer approvals
    assert old.policy.number == 1
    signoff_approve(promotion=old, actor=cast["rita"])
    tier1["version"].refresh_from_db()
    assert tier1["version"].stage == "qa"  # v1 needed one approval

    new = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="preproduction")
    assert new.policy.number == 2
    signoff_approve(promotion=new, actor=cast["rita"])
    tier1["version"].refresh_from_db()
    assert tier1["version"].stage == "qa"
    assert [i["detail"] for i in promotion_checklist(promotion=new)] == ["1 of 2 from risk officers."]


def test_policy_edits_need_risk_officer_and_valid_data(cast, db):
    data = policy_current().data
    with pytest.raises(Forbidden):
        policy_update(actor=cast["dana"], data=data)
    bad = {**data, "tiers": {**data["tiers"], "2": {"sign_off": [{"text": "x", "gate": "approvals", "params": {"role": "wizard"}}]}}}
    with pytest.raises(InvalidInput) as exc:
        policy_update(actor=cast["rita"], data=bad)
    assert "tiers.2.sign_off" in exc.value.fields
    with pytest.raises(InvalidInput) as exc:
        policy_update(actor=cast["rita"], data={**data, "review_interval_days": {"1": 0}})
    assert "review_interval_days" in exc.value.fields
    assert policy_current().number == 1
    assert policy_update(actor=cast["rita"], data=data, comment="same").number == 2
    assert AuditEvent.objects.filter(action="policy.update").count() == 1


def test_one_production_version_previous_is_archived(tier1, cast, advance):
    model = tier1["model"]
    v1 = advance(tier1["version"], "production")
    v2 = registry.model_version_register(actor=cast["dana"], model=model, artifact_uri="s3://v2", sha256="2" * 64, code_commit="def")
    advance(v2, "production")
    v1.refresh_from_db()
    assert v1.stage == "archived"
    assert list(ModelVersion.objects.filter(model=model, stage="production")) == [v2]
    archived = AuditEvent.objects.filter(action="model_version.stage_change", object_id=str(v1.pk)).latest("seq")
    assert archived.changes["stage"] == {"before": "production", "after": "archived"}


def test_archive_from_any_stage(tier1, cast):
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="archived")
    signoff_approve(promotion=p, actor=cast["sam"])
    tier1["version"].refresh_from_db()
    assert tier1["version"].stage == "archived"
    with pytest.raises(InvalidInput):
        promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="archived")


def test_lineage_change_lapses_open_approvals(tier1, cast, strict_policy):
    strict_policy(count=2)
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    signoff_approve(promotion=p, actor=cast["rita"])
    # Datasets are frozen once referenced; the model card is evidence too, and editing it lapses.
    model_card_update(actor=cast["dana"], version=tier1["version"], limitations="Retail only")
    p.refresh_from_db()
    assert p.status == "lapsed"
    assert p.signoffs.get().lapsed_at is not None
    with pytest.raises(Conflict):
        signoff_approve(promotion=p, actor=cast["omar"])
    assert AuditEvent.objects.filter(action="promotion.lapse", object_id=str(p.pk)).exists()
    # a fresh request is bound to the new lineage
    p2 = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    assert p2.lineage_fingerprint != p.lineage_fingerprint


def test_non_human_gates_hold_promotion_until_met(tier1, cast):
    classification_override(actor=cast["rita"], use_case=tier1["use_case"], tier=2, justification="internal consumers")
    version = tier1["version"]
    p = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    signoff_approve(promotion=p, actor=cast["rita"])
    p = promotion_request(actor=cast["dana"], version=version, target_stage="preproduction")
    signoff_approve(promotion=p, actor=cast["rita"])
    p = promotion_request(actor=cast["dana"], version=version, target_stage="production")
    signoff_approve(promotion=p, actor=cast["rita"])
    p.refresh_from_db()
    assert p.status == "approved"  # tier 2 production also needs a model card
    missing = [i["key"] for i in promotion_checklist(promotion=p) if not i["met"]]
    assert missing == ["model_card"]
    with pytest.raises(Conflict):
        promotion_complete(promotion=p, actor=cast["dana"])
    # The card is evidence the approval must cover: writing it lapses this request; a new
    # request, approved with the card in view, promotes.
    model_card_update(actor=cast["dana"], version=version, intended_use="Set limits", limitations="Retail only")
    p.refresh_from_db()
    assert p.status == "lapsed"
    p = promotion_request(actor=cast["dana"], version=version, target_stage="production")
    signoff_approve(promotion=p, actor=cast["rita"])
    version.refresh_from_db()
    assert version.stage == "production"


def test_bias_report_gate_and_uninstalled_gates_stay_unmet(tier1, cast):
    """`bias_report` is checked by the fairness app (tests/fairness); the card's free-text bias
    report no longer meets it, but it is still evidence."""
    data = policy_current().data
    data["tiers"]["1"]["bias_harm"] = [{
        "text": "Bias report by age band", "gate": "bias_report",
        "params": {"subpopulations": ["under_25", "over_65"]}, "stages": ["qa"],
    }]
    data["tiers"]["1"]["monitoring"] = [{"text": "Future check", "gate": "not_installed_yet", "params": {}, "stages": ["qa"]}]
    policy_update(actor=cast["rita"], data=data)
    version = tier1["version"]
    p = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    signoff_approve(promotion=p, actor=cast["rita"])
    p.refresh_from_db()
    assert p.status == "approved"
    bias = next(i for i in promotion_checklist(promotion=p) if i["key"] == "bias_report")
    assert bias["met"] is False
    with pytest.raises(InvalidInput):
        model_card_update(actor=cast["dana"], version=version, bias_report={"under_25": {}})
    future = next(i for i in promotion_checklist(promotion=p) if i["key"] == "not_installed_yet")
    assert future["met"] is False and "No check is installed" in future["detail"]
    model_card_update(actor=cast["dana"], version=version, bias_report={"under_25": {"auc": 0.7}, "over_65": {"auc": 0.75}})
    p.refresh_from_db()
    assert p.status == "lapsed"  # the bias report is evidence: the approval did not see it


def test_requests_from_a_stage_the_version_left_lapse(tier1, cast, advance):
    v1 = advance(tier1["version"], "production")
    stale = promotion_request(actor=cast["dana"], version=v1, target_stage="archived")
    v2 = registry.model_version_register(actor=cast["dana"], model=tier1["model"], artifact_uri="s3://v2", sha256="2" * 64, code_commit="d")
    advance(v2, "production")  # archives v1 by the same transaction
    stale.refresh_from_db()
    assert stale.status == "lapsed"
    with pytest.raises(Conflict):
        signoff_approve(promotion=stale, actor=cast["rita"])
