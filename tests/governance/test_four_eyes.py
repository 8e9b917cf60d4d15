"""Issue 8, point 2: the governed party does not control its own governance. Each test plays
the attack the issue reproduced and shows it refused (or held as a proposal a risk officer other
than the proposer must confirm)."""

import pytest

from audit.models import AuditEvent
from core.errors import Conflict, Forbidden, InvalidInput
from governance import approvals
from governance.classification import classification_override, classification_submit
from governance.promotions import promotion_request, signoff_approve
from governance.proposal_decisions import proposal_confirm, proposal_reject
from governance.proposals import proposals_pending
from governance.raci import raci_update
from governance.selectors import classification_current, raci_for
from registry import services as registry
from registry.models import Proposal

from .conftest import answers

HIGH = answers(regulation="sector", error_impact="legal")  # tier 3 (sector regulation → at least 3)
REALTIME = answers(availability="realtime")  # tier 4


@pytest.fixture
def tier3(inventory, cast):
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=HIGH)
    return inventory


def test_owner_cannot_lower_the_tier_by_re_answering(tier3, cast, worker_mail):
    uc = tier3["use_case"]
    with worker_mail() as sent:
        result = classification_submit(actor=cast["dana"], use_case=uc, answers=answers())
    assert isinstance(result, Proposal) and result.summary == "Lower the tier from 3 to 1"
    assert classification_current(use_case=uc).tier == 3  # the previous state holds
    # Risk officers are told; the proposer is not asked to confirm her own change.
    assert {to for m in sent if "To confirm" in m.subject for to in m.to} == {"rita@example.com", "omar@example.com"}
    assert list(proposals_pending(user=cast["dana"])) == []
    assert list(proposals_pending(user=cast["rita"])) == [result]
    # A promotion now is judged at tier 3, not 1.
    p = promotion_request(actor=cast["dana"], version=tier3["version"], target_stage="qa")
    assert p.tier == 3
    with pytest.raises(Forbidden):
        proposal_confirm(actor=cast["dana"], proposal=result)
    with pytest.raises(Forbidden):
        proposal_confirm(actor=cast["sam"], proposal=result)
    proposal_confirm(actor=cast["omar"], proposal=result, comment="re-assessed")
    current = classification_current(use_case=uc)
    assert current.tier == 1 and current.created_by == cast["dana"] and current.confirmed_by == cast["omar"]
    event = AuditEvent.objects.filter(action="classification.submit").latest("seq")
    assert event.actor_username == "omar" and event.changes["proposed_by"]["after"] == "dana"


def test_stricter_tier_from_the_owner_applies_at_once(tier3, cast):
    result = classification_submit(actor=cast["dana"], use_case=tier3["use_case"], answers=REALTIME)
    assert not isinstance(result, Proposal) and result.tier == 4


def test_first_classification_by_the_owner_waits_and_blocks_promotion(inventory, cast):
    result = classification_submit(actor=cast["dana"], use_case=inventory["use_case"], answers=answers())
    assert isinstance(result, Proposal)
    with pytest.raises(Conflict) as exc:
        promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    assert "waits for a risk officer" in exc.value.message


def test_a_risk_officers_override_stands_until_a_risk_officer_changes_it(tier3, cast):
    uc = tier3["use_case"]
    classification_override(actor=cast["rita"], use_case=uc, tier=4, justification="Regulator's list")
    # The owner re-answers low: the computed tier drops, the override stands, nothing waits.
    result = classification_submit(actor=cast["dana"], use_case=uc, answers=answers())
    assert not isinstance(result, Proposal)
    assert result.tier == 4 and result.computed_tier == 1 and result.override_justification == "Regulator's list"
    with pytest.raises(Forbidden):
        classification_override(actor=cast["dana"], use_case=uc, tier=1, justification="mine")
    classification_override(actor=cast["omar"], use_case=uc, tier=2, justification="Reviewed")
    assert classification_current(use_case=uc).tier == 2


def test_owner_cannot_make_herself_and_a_colleague_the_approvers_mid_request(tier3, cast, advance):
    uc = tier3["use_case"]
    advance(tier3["version"], "qa")
    p = promotion_request(actor=cast["dana"], version=tier3["version"], target_stage="preproduction")
    cells = raci_for(use_case=uc).cells
    cells["model_acceptance"] = {**cells["model_acceptance"], "risk_audit": "", "data_scientist": "A/R"}
    result = raci_update(actor=cast["dana"], use_case=uc, cells=cells, assignments={"data_scientist": ["sam"]})
    assert isinstance(result, Proposal) and result.kind == Proposal.Kind.RACI
    assert raci_for(use_case=uc).pk is None  # the default matrix still holds
    # The request is judged by the matrix in force: sam fills no slot of this tier-3 move.
    assert [s.role for s in approvals.slots(p)] == ["risk_officer"]
    assert cast["sam"].pk not in approvals.accountable_ids(p)
    with pytest.raises(Forbidden):
        signoff_approve(promotion=p, actor=cast["sam"])


def test_raci_may_not_name_an_auditor_as_approver(tier3, cast):
    with pytest.raises(InvalidInput) as exc:
        raci_update(actor=cast["rita"], use_case=tier3["use_case"], assignments={"risk_audit": ["audrey"]})
    assert "audrey may not approve moves" in exc.value.fields["assignments.risk_audit"][0]
    # An auditor is never a candidate, even where an old matrix names her.
    from governance.models import RaciMatrix

    RaciMatrix.objects.create(use_case=tier3["use_case"], cells=raci_for(use_case=tier3["use_case"]).cells,
                              assignments={"risk_audit": [cast["audrey"].pk]})
    p = promotion_request(actor=cast["dana"], version=tier3["version"], target_stage="qa")
    assert approvals.capacities(p, cast["audrey"]) == set()
    assert cast["audrey"] not in approvals.approver_candidates(p)


def test_moving_a_production_model_to_a_tier1_use_case_waits_for_a_risk_officer(inventory, cast, advance, api):
    uc = inventory["use_case"]
    classification_submit(actor=cast["rita"], use_case=uc, answers=REALTIME)
    raci_update(actor=cast["omar"], use_case=uc, assignments={"risk_audit": ["omar"], "production": ["omar"]})
    low = registry.use_case_create(actor=cast["dana"], name="Sandbox")
    classification_submit(actor=cast["rita"], use_case=low, answers=answers())
    r = api("dana").patch("/api/v1/models/credit-gbm/", {"use_case": low.pk, "description": "moved"}, format="json")
    assert r.status_code == 202, r.json()
    assert r.json()["use_case"] == uc.pk and r.json()["description"] == "moved"
    assert r.json()["proposal"]["summary"] == "Move credit-gbm from Credit limits to Sandbox"
    inventory["model"].refresh_from_db()
    assert inventory["model"].use_case == uc
    p = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    assert p.tier == 4


def test_attaching_a_model_to_somebody_elses_use_case_is_refused(inventory, cast, api):
    r = api("sam").post("/api/v1/models/", {"name": "hijack", "use_case": inventory["use_case"].pk}, format="json")
    assert r.status_code == 403 and "not your use case" in r.json()["detail"]
    refused = AuditEvent.objects.get(action="access.refused", actor_username="sam")
    assert refused.changes["attempted"]["after"] == "model.create"


def test_proposer_cannot_confirm_and_a_risk_officer_owner_cannot_either(inventory, cast):
    uc = registry.use_case_create(actor=cast["rita"], name="Rita's own")
    proposal = classification_submit(actor=cast["rita"], use_case=uc, answers=answers())
    assert isinstance(proposal, Proposal)  # she owns it: her classification is a proposal too
    with pytest.raises(Forbidden):
        proposal_confirm(actor=cast["rita"], proposal=proposal)
    proposal_reject(actor=cast["omar"], proposal=proposal, comment="answer the data question again")
    proposal.refresh_from_db()
    assert proposal.status == "rejected" and classification_current(use_case=uc) is None
