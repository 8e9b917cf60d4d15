"""One experiment from design to decision through the API, with the RACI, the promotion request
opened on "adopt" and the governance gate."""

import numpy as np
import pytest

from abtests.assignment import assign_arm
from audit.models import AuditEvent
from governance.classification import classification_submit
from governance.gates import evaluate_gate
from governance.raci import raci_update

from .conftest import ab_csv

pytestmark = pytest.mark.django_db

LOW = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


def test_design_to_decision(api, cast, versions, analyse):
    use_case = versions[0].model.use_case
    classification_submit(actor=cast["rita"], use_case=use_case, answers=LOW)
    raci_update(actor=cast["rita"], use_case=use_case, assignments={"risk_audit": ["omar"]})
    dana = api("dana")

    r = dana.post("/api/v1/experiments/", {
        "name": "gbm v2 vs v1", "model": "credit-gbm", "champion": 1, "challengers": [2],
        "metric_name": "revenue", "metric_type": "continuous", "test": "welch_t", "sd": 2.0, "mde": 1.0,
        "daily_units": 200, "splitting": "sticky",
    }, format="json")
    assert r.status_code == 201, r.content
    exp = r.json()
    assert dana.post(f"/api/v1/experiments/{exp['id']}/start/").status_code == 200

    # serve: the assignment decides the arm of every unit
    rng = np.random.default_rng(11)
    units = [f"cust-{i}" for i in range(600)]
    arms = [assign_arm(exp["salt"], u, ["control", "treatment"], [1, 1]) for u in units[:5]]
    assert arms == [dana.get(f"/api/v1/experiments/{exp['id']}/assign/", {"unit": u}).json()["arm"] for u in units[:5]]
    a, b = rng.normal(20.0, 2.0, 300), rng.normal(21.0, 2.0, 300)
    r = dana.generic("POST", f"/api/v1/experiments/{exp['id']}/events/", ab_csv(a, b), content_type="text/csv")
    assert r.status_code == 201

    from abtests.models import Experiment

    result = analyse(Experiment.objects.get(pk=exp["id"]))
    assert result["status"] == "completed"
    metric = result["metrics"][0]
    assert metric["significant"] is True and metric["in_favour"] is True
    assert evaluate_gate("ab_result_in_favour", version=versions[1]).met is False  # not decided yet

    decision = {"outcome": "adopt_challenger", "rationale": "Revenue up by a significant margin."}
    assert api("dana").post(f"/api/v1/experiments/{exp['id']}/decision/", decision, format="json").status_code == 403
    assert api("rita").post(f"/api/v1/experiments/{exp['id']}/decision/", decision, format="json").status_code == 403  # RACI names omar
    r = api("omar").post(f"/api/v1/experiments/{exp['id']}/decision/", decision, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["version"] == 2 and r.json()["signers"] == ["omar"]
    from governance.models import PromotionRequest

    promotion = PromotionRequest.objects.get(pk=int(r.json()["promotion_ref"]))
    assert promotion.version == versions[1] and promotion.target_stage == "qa"
    # opened in the name of the person who decided, not of dana who created the experiment
    assert promotion.requester == cast["omar"]
    opened = AuditEvent.objects.get(object_type="governance.promotionrequest", object_id=str(promotion.pk),
                                    action="promotion.request")
    assert opened.actor_id == cast["omar"].pk
    # as its requester, the decider cannot also sign it off
    refused = api("omar").post(f"/api/v1/promotions/{promotion.pk}/approve/", {"comment": "ok"}, format="json")
    assert refused.status_code == 403 and "separation of duties" in refused.json()["detail"]
    assert dana.get(f"/api/v1/experiments/{exp['id']}/").json()["status"] == "decided"
    assert api("omar").post(f"/api/v1/experiments/{exp['id']}/decision/", decision, format="json").status_code == 409

    gate = evaluate_gate("ab_result_in_favour", version=versions[1])
    assert gate.met is True and str(result["id"]) in gate.evidence_url
    assert evaluate_gate("ab_result_in_favour", version=versions[2]).met is False
    assert AuditEvent.objects.filter(action="experiment.decision", object_id=str(exp["id"])).exists()


def test_keep_champion_after_an_early_stop_needs_no_analysis(api, make_experiment, versions):
    exp = make_experiment("welch_t")
    api("dana").post(f"/api/v1/experiments/{exp.pk}/stop/", {"reason": "incident"}, format="json")
    r = api("rita").post(f"/api/v1/experiments/{exp.pk}/decision/",
                         {"outcome": "keep_champion", "rationale": "Stopped after an incident."}, format="json")
    assert r.status_code == 201 and r.json()["version"] is None
    assert sorted(api("root").post(f"/api/v1/experiments/{exp.pk}/decision/sign/").json()["signers"]) == ["rita", "root"]
    assert evaluate_gate("ab_result_in_favour", version=versions[1]).met is False
