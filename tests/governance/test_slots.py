"""Issue 8, point 7: who may approve and what each approval counts for is one function
(`governance.approvals`), and one person fills one slot."""

import pytest

from core.errors import Forbidden
from governance import approvals
from governance.approvals import approver_candidates
from governance.checklist import promotion_checklist
from governance.policy import policy_update
from governance.promotions import promotion_request, signoff_approve
from governance.raci import raci_update
from governance.selectors import policy_current


@pytest.fixture
def two_ro_one_accountable(tier1, cast, make_user):
    """Tier 1 QA needs 2 risk officers + the Accountable; rita is Accountable (risk_audit) too."""
    from core.roles import Role

    cast["tess"] = make_user("tess", Role.RISK_OFFICER)
    data = policy_current().data
    data["tiers"]["1"]["sign_off"] = [
        {"text": "", "gate": "approvals", "params": {"role": "risk_officer", "count": 2}, "stages": ["qa"]},
        {"text": "", "gate": "approvals", "params": {"role": "accountable", "count": 1}, "stages": ["qa"]},
    ]
    policy_update(actor=cast["omar"], data=data)
    raci_update(actor=cast["omar"], use_case=tier1["use_case"], assignments={"risk_audit": ["rita"]})
    return promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")


def test_two_risk_officers_and_the_accountable_need_three_people(two_ro_one_accountable, cast, make_user):
    p = two_ro_one_accountable
    assert [s.role for s in approvals.slots(p)] == ["accountable", "risk_officer", "risk_officer"]
    signoff_approve(promotion=p, actor=cast["rita"])   # fills one slot, not two
    signoff_approve(promotion=p, actor=cast["omar"])
    p.refresh_from_db()
    assert p.status == "open"
    slots = approvals.slots(p)
    assert sum(s.filled for s in slots) == 2
    open_slot = next(s for s in slots if not s.filled)
    # The matching put rita in the accountable slot: the open one asks for a risk officer.
    assert open_slot.role == "risk_officer" and [u.username for u in open_slot.candidates] == ["tess"]
    signoff_approve(promotion=p, actor=cast["tess"])
    p.refresh_from_db()
    assert p.status == "promoted"


def test_an_approval_that_fills_no_open_slot_is_refused(two_ro_one_accountable, cast):
    p = two_ro_one_accountable
    signoff_approve(promotion=p, actor=cast["omar"])
    signoff_approve(promotion=p, actor=cast["tess"])
    # Both risk-officer slots are filled; root (admin) is neither a risk officer nor Accountable.
    with pytest.raises(Forbidden) as exc:
        signoff_approve(promotion=p, actor=cast["root"])
    assert exc.value.message == (
        "The approvals still needed are from the Accountable person (RACI); your approval would fill none of them."
    )
    assert approver_candidates(p) == [cast["rita"]]


def test_checklist_signing_notifications_and_candidates_agree(two_ro_one_accountable, cast):
    p = two_ro_one_accountable
    candidates = {u.username for u in approver_candidates(p)}
    assert candidates == {"rita", "omar", "tess"}
    for name, user in cast.items():
        assert approvals.may_approve(p, user)[0] == (name in candidates), name
    gate = [i for i in promotion_checklist(promotion=p) if i["key"] == "approvals"]
    assert [i["detail"] for i in gate] == ["0 of 2 from risk officers.", "0 of 1 from the Accountable person (RACI)."]
    assert [i["label"] for i in gate] == ["2 approvals from risk officers for QA", "Approval by the Accountable person (RACI) for QA"]


def test_admins_count_as_any_and_admin_but_not_as_risk_officer(tier1, cast, strict_policy):
    strict_policy(count=1, role="risk_officer")
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    assert approvals.capacities(p, cast["root"]) == {"any", "admin"}
    assert not approvals.may_approve(p, cast["root"])[0]


def test_policy_text_is_generated_from_its_structure(cast):
    data = policy_current().data
    data["tiers"]["3"]["sign_off"] = [
        {"text": "1 approval(s) from risk officer", "gate": "approvals", "params": {"role": "any", "count": 2}, "stages": ["production"]},
        {"text": "whatever", "gate": "approvals", "params": {"role": "risk_officer", "count": 1}, "stages": ["production"]},
    ]
    policy = policy_update(actor=cast["rita"], data=data)
    texts = [m["text"] for m in policy.data["tiers"]["3"]["sign_off"]]
    assert texts == ["2 approvals from different people for production", "1 approval from a risk officer for production"]


def test_policy_may_not_ask_for_an_auditor_or_several_accountables(cast):
    from core.errors import InvalidInput

    for params in ({"role": "auditor", "count": 1}, {"role": "accountable", "count": 2}):
        data = policy_current().data
        data["tiers"]["1"]["sign_off"] = [{"text": "", "gate": "approvals", "params": params, "stages": ["qa"]}]
        with pytest.raises(InvalidInput):
            policy_update(actor=cast["rita"], data=data)


def test_policy_api_reads_generated_texts_for_versions_stored_before(api, db):
    body = api("dana").get("/api/v1/policies/").json()
    assert [m["text"] for m in body["data"]["tiers"]["1"]["sign_off"]] == ["1 approval for production"]
    assert [m["text"] for m in body["data"]["tiers"]["3"]["sign_off"]] == [
        "1 approval from a risk officer for pre-production, production",
        "Approval by the Accountable person (RACI) for production",
    ]
