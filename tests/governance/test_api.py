"""The governance endpoints: shapes, status codes and the one error body."""

from django.core.files.uploadedfile import SimpleUploadedFile

from governance.classification import classification_submit
from governance.models import PromotionRequest
from governance.policy import policy_update
from governance.promotions import promotion_request, promotion_withdraw, signoff_approve
from governance.reviews import review_open_early, reviews_open_due
from governance.selectors import policy_current
from registry.services import model_version_register

from .conftest import answers


def test_questionnaire_lists_questions_choices_and_ethics(api, db):
    body = api("dana").get("/api/v1/questionnaire/").json()
    assert body["scheme"] == 1
    keys = {q["key"] for q in body["questions"]}
    assert {"regulation", "consumers", "availability", "error_impact", "explainability"} <= keys
    assert {e["key"] for e in body["ethics"]} == {"wellbeing", "transparency", "accountability"}


def test_classification_put_and_get(api, inventory):
    url = f"/api/v1/use-cases/{inventory['use_case'].pk}/classification/"
    assert api("dana").get(url).status_code == 404
    # The owner's first classification is a proposal: nothing is classified until a risk officer confirms.
    r = api("dana").put(url, {"answers": answers(availability="realtime"), "ethics": {"transparency": "High"}}, format="json")
    assert r.status_code == 202, r.json()
    proposal = r.json()["proposal"]
    assert proposal["status"] == "pending" and proposal["summary"] == "Classify as tier 4"
    assert api("dana").get(url).status_code == 404
    r = api("rita").post(f"/api/v1/proposals/{proposal['id']}/confirm/", {"comment": "agreed"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    body = api("audrey").get(url).json()
    assert body["tier"] == 4 and body["drivers"][0]["question"] == "availability"
    assert body["created_by"] == "dana" and body["confirmed_by"] == "rita"


def test_classification_bad_answers_are_400_with_fields(api, inventory):
    url = f"/api/v1/use-cases/{inventory['use_case'].pk}/classification/"
    r = api("dana").put(url, {"answers": {"regulation": "moon"}}, format="json")
    assert r.status_code == 400
    assert "answers.regulation" in r.json()["errors"]


def test_classification_override_via_api(api, inventory):
    url = f"/api/v1/use-cases/{inventory['use_case'].pk}/classification/"
    body = {"answers": answers(), "override_tier": 3}
    assert api("dana").put(url, body, format="json").status_code == 403
    r = api("rita").put(url, body, format="json")
    assert r.status_code == 400 and "override_justification" in r.json()["errors"]
    r = api("rita").put(url, {**body, "override_justification": "Regulator asked"}, format="json")
    assert r.status_code == 200 and r.json()["tier"] == 3 and r.json()["computed_tier"] == 1


def test_raci_get_default_and_put(api, inventory):
    url = f"/api/v1/use-cases/{inventory['use_case'].pk}/raci/"
    body = api("dana").get(url).json()
    assert body["is_default"] and body["cells"]["deployments"]["production"] == "A/R"
    cells = body["cells"]
    cells["deployments"]["production"] = "R"
    r = api("dana").put(url, {"cells": cells}, format="json")
    assert r.status_code == 400 and "cells.deployments" in r.json()["errors"]
    # risk_audit is Accountable for model acceptance: who approves changes, so the owner proposes.
    r = api("dana").put(url, {"assignments": {"risk_audit": ["rita"]}}, format="json")
    assert r.status_code == 202 and r.json()["proposal"]["kind"] == "raci"
    assert api("dana").get(url).json()["assignments"] == {}
    r = api("omar").post(f"/api/v1/proposals/{r.json()['proposal']['id']}/confirm/", {}, format="json")
    assert r.status_code == 200
    assert api("dana").get(url).json()["assignments"] == {"risk_audit": ["rita"]}
    assert api("audrey").put(url, {"assignments": {}}, format="json").status_code == 403


def test_policy_get_put_and_versions(api, db):
    current = api("rita").get("/api/v1/policies/").json()
    assert current["number"] == 1 and "sign_off" in current["considerations"]
    assert api("dana").put("/api/v1/policies/", {"data": current["data"]}, format="json").status_code == 403
    r = api("rita").put("/api/v1/policies/", {"data": {"tiers": {}}}, format="json")
    assert r.status_code == 400 and "tiers.1" in r.json()["errors"]
    r = api("rita").put("/api/v1/policies/", {"data": current["data"], "comment": "reviewed"}, format="json")
    assert r.status_code == 200 and r.json()["number"] == 2
    versions = api("audrey").get("/api/v1/policies/versions/").json()
    assert [v["number"] for v in versions["results"]] == [2, 1]
    assert api("audrey").get("/api/v1/policies/versions/1/").json()["number"] == 1


def test_promotion_flow_over_http(api, inventory, cast):
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    r = api("dana").post("/api/v1/promotions/", {"model": "credit-gbm", "version": 1, "target_stage": "qa"}, format="json")
    assert r.status_code == 201, r.json()
    promotion = r.json()
    assert promotion["status"] == "open" and promotion["policy_version"] == 1
    assert promotion["checklist"][0]["key"] == "approvals" and promotion["checklist"][0]["met"] is False
    url = f"/api/v1/promotions/{promotion['id']}/"
    r = api("dana").post(url + "approve/", {"comment": "mine"}, format="json")
    assert r.status_code == 403 and "separation of duties" in r.json()["detail"]
    r = api("rita").post(url + "approve/", {"comment": "good"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "promoted"
    assert r.json()["signoffs"][0]["approver"] == "rita"
    assert api("omar").post(url + "approve/", {}, format="json").status_code == 409
    listed = api("audrey").get("/api/v1/promotions/?model=credit-gbm&status=promoted").json()
    assert [p["id"] for p in listed["results"]] == [promotion["id"]]


def test_promotion_bad_input(api, inventory, cast):
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    post = api("dana").post
    r = post("/api/v1/promotions/", {"model": "credit-gbm", "version": 1, "target_stage": "moon"}, format="json")
    assert r.status_code == 400 and "target_stage" in r.json()["errors"]
    r = post("/api/v1/promotions/", {"model": "credit-gbm", "version": 1, "target_stage": "production"}, format="json")
    assert r.status_code == 400 and "target_stage" in r.json()["errors"]
    r = post("/api/v1/promotions/", {"model": "credit-gbm", "version": 9, "target_stage": "qa"}, format="json")
    assert r.status_code == 404
    r = post("/api/v1/promotions/", {"model": "credit-gbm"}, format="json")
    assert r.status_code == 400 and {"version", "target_stage"} <= set(r.json()["errors"])
    assert post("/api/v1/promotions/", {"model": "credit-gbm", "version": 1, "target_stage": "qa"}, format="json").status_code == 201
    assert post("/api/v1/promotions/", {"model": "credit-gbm", "version": 1, "target_stage": "qa"}, format="json").status_code == 409


def test_withdraw_and_reject_over_http(api, inventory, cast):
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    p = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    assert api("rita").post(f"/api/v1/promotions/{p.pk}/reject/", {}, format="json").status_code == 400
    r = api("dana").post(f"/api/v1/promotions/{p.pk}/withdraw/")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert api("rita").post(f"/api/v1/promotions/{p.pk}/approve/", {}, format="json").status_code == 409
    p2 = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    r = api("rita").post(f"/api/v1/promotions/{p2.pk}/reject/", {"comment": "Missing bias report"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "rejected"


def _queries(client, url) -> tuple[int, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).json()
    return len(queries), body


def test_promotion_list_query_count_is_bounded(api, inventory, cast):
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    p = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    promotion_withdraw(promotion=p, actor=cast["dana"])
    promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    client = api("audrey")
    client.get("/api/v1/me/")  # warm the token lookup path
    # token lookup, token last_used update, user, roles, count, page, signoffs prefetch
    few, body = _queries(client, "/api/v1/promotions/")
    assert few <= 7 and body["count"] == 2
    for _ in range(3):  # three more rows cost no more queries
        promotion_withdraw(promotion=PromotionRequest.objects.get(status="open"), actor=cast["dana"])
        promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    more, body = _queries(client, "/api/v1/promotions/")
    assert (more, body["count"]) == (few, 5)


def test_model_card_json_markdown_and_sections(api, inventory, cast):
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    p = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    signoff_approve(promotion=p, actor=cast["rita"], comment="Looks right")
    url = "/api/v1/models/credit-gbm/versions/1/card/"
    assert api("sam").put(url, {"intended_use": "x"}, format="json").status_code == 403
    r = api("dana").put(url, {"intended_use": "Retail credit limits", "limitations": "Not for SMEs"}, format="json")
    assert r.status_code == 200
    card = api("audrey").get(url).json()
    assert card["use_case"]["tier"] == 1 and card["purpose"] == "Limits"
    assert card["sections"] == {"intended_use": "Retail credit limits", "limitations": "Not for SMEs"}
    assert [d["name"] for d in card["lineage"]["training_datasets"]] == ["accounts", "bureau"]
    assert card["governance"][0]["signoffs"][0]["approver"] == "rita"
    md = api("audrey").get("/api/v1/models/credit-gbm/versions/1/card.md")
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    text = md.content.decode()
    assert "# Model card: credit-gbm v1" in text and "approve by rita" in text and "Not for SMEs" in text
    assert api("dana").get("/api/v1/models/credit-gbm/versions/9/card/").status_code == 404


def test_questionnaire_put_stores_next_scheme(api, db):
    body = api("rita").get("/api/v1/questionnaire/").json()
    scheme = {k: body[k] for k in ("questions", "thresholds", "ethics")}
    assert api("dana").put("/api/v1/questionnaire/", scheme, format="json").status_code == 403
    r = api("rita").put("/api/v1/questionnaire/", {**scheme, "thresholds": [{"tier": 7, "min_score": 1}]}, format="json")
    assert r.status_code == 400 and "thresholds" in r.json()["errors"]
    r = api("rita").put("/api/v1/questionnaire/", scheme, format="json")
    assert r.status_code == 200 and r.json()["scheme"] == 2


def test_review_and_policy_lists_have_bounded_queries(api, tier1, cast, advance):
    from datetime import timedelta

    from django.utils import timezone

    advance(tier1["version"], "production")
    reviews_open_due(today=timezone.localdate() + timedelta(days=400))
    policy_update(actor=cast["rita"], data=policy_current().data)
    client = api("audrey")
    client.get("/api/v1/me/")
    # token, token touch, roles, count, page (reviews join versions and models)
    reviews, body = _queries(client, "/api/v1/reviews/")
    assert reviews <= 6 and body["count"] == 1
    policies, body = _queries(client, "/api/v1/policies/versions/")
    assert policies <= 6 and body["count"] == 2
    # More rows cost no more queries.
    for n in (2, 3):
        version = model_version_register(actor=cast["dana"], model=tier1["model"],
                                         artifact=SimpleUploadedFile("m.bin", f"weights-{n}".encode()))
        review_open_early(version=version, reason="test")
        policy_update(actor=cast["rita"], data=policy_current().data)
    more, body = _queries(client, "/api/v1/reviews/")
    assert (more, body["count"]) == (reviews, 3)
    assert _queries(client, "/api/v1/policies/versions/")[0] == policies
