"""Governance pages: classification, RACI, policies, model card, reviews — writes go through the
services and refusals are shown in words, next to the inputs they concern."""

import datetime

import pytest
from django.urls import reverse

from governance.classification import classification_submit
from governance.models import Classification, Policy, RaciMatrix, Review
from governance.policy import with_generated_texts
from governance.promotions import signoff_approve
from governance.proposals import proposals_pending
from governance.selectors import classification_current, policy_current, raci_for

from .conftest import LOW_RISK_ANSWERS

pytestmark = pytest.mark.django_db


def answers_form(answers, **ethics):
    return {**{f"q-{k}": v for k, v in answers.items()}, **{f"e-{k}": v for k, v in ethics.items()}}


HIGH_RISK = {**LOW_RISK_ANSWERS, "regulation": "sector", "consumers": "public"}


def test_use_case_page_links_to_classification_and_raci(browse, inventory):
    uc = inventory["use_case"]
    body = browse("dana").get(reverse("portal:use-case", args=[uc.pk])).content.decode()
    assert "Not classified yet" in body
    assert reverse("portal:classification", args=[uc.pk]) in body and reverse("portal:raci", args=[uc.pk]) in body


def test_questionnaire_classifies_and_shows_the_drivers(browse, inventory):
    uc = inventory["use_case"]
    url = reverse("portal:classification", args=[uc.pk])
    client = browse("rita")  # a risk officer's classification of someone else's use case applies at once
    page = client.get(url).content.decode()
    assert "Applicable regulations" in page and "Who accepts accountability for AI-driven mistakes?" in page
    response = client.post(url, answers_form(HIGH_RISK, accountability="The credit committee"), follow=True)
    body = response.content.decode()
    assert "Classified: risk tier 3" in body
    assert "Sector-specific regulation" in body and "at least tier 3" in body
    assert "The credit committee" in body
    assert Classification.objects.get(use_case=uc).ethics == {"accountability": "The credit committee"}
    # The list and the use case page show the tier now.
    assert "Risk tier <strong" in client.get(reverse("portal:use-case", args=[uc.pk])).content.decode()


def test_unanswered_questions_are_flagged_in_place(browse, inventory):
    uc = inventory["use_case"]
    partial = {k: v for k, v in LOW_RISK_ANSWERS.items() if k != "decay"}
    response = browse("dana").post(reverse("portal:classification", args=[uc.pk]), answers_form(partial))
    assert response.status_code == 400
    body = response.content.decode()
    assert "The classification is invalid; nothing was stored." in body
    assert 'id="err-decay"' in body and "Required; one of slow, medium, fast." in body
    assert not Classification.objects.exists()


def test_preview_computes_the_tier_without_saving(browse, inventory):
    url = reverse("portal:classification-preview", args=[inventory["use_case"].pk])
    body = browse("dana").post(url, answers_form(HIGH_RISK)).content.decode()
    assert "risk tier 3" in body and "Sector-specific" in body
    body = browse("dana").post(url, answers_form({"regulation": "none"})).content.decode()
    assert "Answer every question" in body and "Need for explainability" in body
    assert not Classification.objects.exists()


def test_only_risk_officers_override_and_only_with_justification(browse, inventory, cast):
    uc = inventory["use_case"]
    classification_submit(actor=cast["omar"], use_case=uc, answers=LOW_RISK_ANSWERS)
    url = reverse("portal:classification-override", args=[uc.pk])
    page = browse("dana").get(reverse("portal:classification", args=[uc.pk])).content.decode()
    assert "Only risk officers may override" in page and "Override tier" not in page
    refused = browse("dana").post(url, {"tier": "4", "justification": "because"})
    assert refused.status_code == 403 and "Only risk officers may override a computed tier." in refused.content.decode()

    missing = browse("rita").post(url, {"tier": "4", "justification": " "})
    assert missing.status_code == 400
    assert 'id="err-justification"' in missing.content.decode()
    done = browse("rita").post(url, {"tier": "4", "justification": "Feeds the regulator's report"}, follow=True)
    body = done.content.decode()
    assert "Tier overridden to 4" in body and "Feeds the regulator&#x27;s report" in body
    assert classification_current(use_case=uc).tier == 4


def test_raci_grid_shows_validation_messages_per_task(browse, inventory):
    uc = inventory["use_case"]
    url = reverse("portal:raci", args=[uc.pk])
    client = browse("dana")
    page = client.get(url).content.decode()
    assert "This is the default matrix" in page
    assert 'aria-label="Model acceptance — Risk / audit"' in page
    form = {f"cell-{task}-{role}": value for task, row in raci_for(use_case=uc).cells.items() for role, value in row.items()}
    form["cell-model_acceptance-data_scientist"] = "A"  # risk_audit is A already: two Accountables
    form["people-risk_audit"] = "rita, ghost"
    response = client.post(url, form)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Model acceptance: Exactly one Accountable (A or A/R) is required; found 2." in body
    assert 'id="err-people-risk_audit"' in body and "Unknown user(s): ghost." in body
    assert not RaciMatrix.objects.exists()

    form["cell-model_acceptance-data_scientist"] = "R"
    form["people-risk_audit"] = "rita, omar"
    # dana owns the use case: changing who approves moves is a proposal; the default holds.
    body = client.post(url, form, follow=True).content.decode()
    assert "Proposed: who approves moves changes once a risk officer confirms" in body
    assert 'id="pending-raci"' in body and not RaciMatrix.objects.exists()
    # An auditor may not be named where approvals are given.
    refused = browse("rita").post(url, {**form, "people-risk_audit": "audrey"})
    assert refused.status_code == 400 and "audrey may not approve moves" in refused.content.decode()
    response = browse("rita").post(url, form, follow=True)
    body = response.content.decode()
    assert "RACI matrix saved." in body and 'value="omar, rita"' in body
    assert "Moves to QA (Model acceptance): omar, rita" in body


def test_raci_is_read_only_for_outsiders(browse, inventory):
    url = reverse("portal:raci", args=[inventory["use_case"].pk])
    body = browse("sam").get(url).content.decode()
    assert "Only the use case's owner" in body and "Save RACI" not in body
    assert browse("sam").post(url, {}).status_code == 403


def test_policy_matrix_shows_measures_and_edit_links_for_risk_officers(browse, cast):
    body = browse("rita").get(reverse("portal:policies")).content.decode()
    assert "Human sign-off" in body and "1 approval for production" in body and "approval(s)" not in body
    assert reverse("portal:policy-cell", args=[1, "sign_off"]) in body
    assert reverse("portal:policy-cell", args=[1, "sign_off"]) not in browse("dana").get(reverse("portal:policies")).content.decode()


def _cell_form(policy, tier, consideration, **changes):
    measures = policy.data["tiers"][str(tier)].get(consideration, [])
    form = {"base": str(policy.number), "rows": str(len(measures) + 1)}
    for i, m in enumerate(measures):
        form[f"text-{i}"] = m["text"]
        if m.get("gate"):
            form[f"gate-{i}"] = m["gate"]
            form[f"stages-{i}"] = m.get("stages", [])
            form[f"role-{i}"] = m["params"].get("role", "any")
            form[f"count-{i}"] = str(m["params"].get("count", 1))
    form.update(changes)
    return form


def test_risk_officer_edits_a_cell_and_a_new_version_is_stored(browse, cast):
    before = policy_current()
    url = reverse("portal:policy-cell", args=[1, "sign_off"])
    client = browse("rita")
    assert "Save as new policy version" in client.get(url).content.decode()
    form = _cell_form(before, 1, "sign_off", **{"text-0": "", "count-0": "2", "role-0": "risk_officer", "comment": "stricter"})
    response = client.post(url, form, follow=True)
    assert f"Saved as policy version {before.number + 1}." in response.content.decode()
    after = policy_current()
    assert after.comment == "stricter"
    assert after.data["tiers"]["1"]["sign_off"] == [
        {"text": "2 approvals from risk officers for production", "gate": "approvals",
         "params": {"role": "risk_officer", "count": 2}, "stages": ["production"]}
    ]
    # Other cells keep their rules; their approvals texts are (re)written from the structure.
    assert after.data["tiers"]["2"] == with_generated_texts(before.data)["tiers"]["2"]

    diff = client.get(reverse("portal:policy-diff"), {"from": before.number, "to": after.number}).content.decode()
    assert "1 cell changed" in diff
    assert "<del>1 approval for production" in diff and "<ins>2 approvals from risk officers for production" in diff
    matrix = client.get(reverse("portal:policies")).content.decode()
    assert "2 approvals from risk officers for production" in matrix
    versions = client.get(reverse("portal:policy-versions")).content.decode()
    assert f"v{after.number}" in versions and "stricter" in versions
    old = client.get(reverse("portal:policy-version", args=[before.number])).content.decode()
    assert "what changed since" in old


def test_policy_edit_refusals_are_explained(browse, cast):
    policy = policy_current()
    url = reverse("portal:policy-cell", args=[1, "sign_off"])
    assert "Only risk officers edit the governance policy." in browse("dana").get(url).content.decode()
    refused = browse("dana").post(url, _cell_form(policy, 1, "sign_off"))
    assert refused.status_code == 403
    invalid = browse("rita").post(url, _cell_form(policy, 1, "sign_off", **{"count-0": "0"}))
    assert invalid.status_code == 400 and "the count is a whole number of 1 or more" in invalid.content.decode()
    stale = browse("rita").post(url, _cell_form(policy, 1, "sign_off", base=str(policy.number - 1)))
    assert "The policy changed since you opened this form" in stale.content.decode()
    assert Policy.objects.count() == 1


def test_model_page_shows_signoff_history_and_card(browse, promotion, inventory, cast):
    signoff_approve(promotion=promotion, actor=cast["rita"], comment="holdout looks fine")
    client = browse("audrey")
    body = client.get(reverse("portal:model", args=["credit-gbm"])).content.decode()
    assert "Sign-off history" in body and f"#{promotion.pk}" in body
    assert "rita</strong> approved" in body and "holdout looks fine" in body
    card_url = reverse("portal:model-card", args=["credit-gbm", 1])
    assert card_url in body
    card = client.get(card_url).content.decode()
    assert "Model card" in card and "accounts@1" in card and "approve by <strong>rita</strong>" in card
    md = client.get(reverse("api:version-card-md", args=["credit-gbm", 1]))
    assert md.status_code == 200 and b"# Model card: credit-gbm v1" in md.content


def test_dashboard_counts_overdue_reviews_for_risk_officers(browse, inventory):
    Review.objects.create(version=inventory["version"], due_date=datetime.date(2020, 1, 1))
    assert "1</strong> overdue periodic review" in browse("rita").get(reverse("portal:dashboard")).content.decode()
    assert "overdue periodic review" not in browse("dana").get(reverse("portal:dashboard")).content.decode()


def test_risk_officer_completes_a_review(browse, inventory):
    review = Review.objects.create(version=inventory["version"], due_date=datetime.date(2020, 1, 1))
    page = browse("rita").get(reverse("portal:reviews")).content.decode()
    assert "(overdue)" in page and "Record review" in page
    browse("rita").post(reverse("portal:review-complete", args=[review.pk]), {"note": "still fit"})
    review.refresh_from_db()
    assert review.status == Review.Status.DONE
    response = browse("dana").post(reverse("portal:review-complete", args=[review.pk]), {"note": "x"}, follow=True)
    assert "Only risk officers complete periodic reviews." in response.content.decode()


def test_risk_officer_edits_review_intervals(browse, cast):
    before = policy_current()
    url = reverse("portal:policy-intervals")
    assert url in browse("rita").get(reverse("portal:policies")).content.decode()
    form = {"base": str(before.number), "days-1": "365", "days-2": "180", "days-3": "60", "days-4": "0"}
    invalid = browse("rita").post(url, form)
    assert invalid.status_code == 400 and "Days (positive integers)" in invalid.content.decode()
    form["days-4"] = "14"
    browse("rita").post(url, form)
    assert policy_current().data["review_interval_days"] == {"1": 365, "2": 180, "3": 60, "4": 14}
    diff = browse("rita").get(reverse("portal:policy-diff"), {"from": before.number, "to": before.number + 1}).content.decode()
    assert "Review interval (days)" in diff and "<ins>14</ins>" in diff
    assert browse("dana").post(url, {**form, "base": str(before.number + 1)}).status_code == 403


def test_override_tier_has_no_default_and_owner_proposals_show_as_waiting(browse, inventory, cast):
    uc = inventory["use_case"]
    classification_submit(actor=cast["omar"], use_case=uc, answers={**LOW_RISK_ANSWERS, "regulation": "sector"})
    page = browse("rita").get(reverse("portal:classification", args=[uc.pk])).content.decode()
    assert '<option value="" selected>Choose a tier…</option>' in page
    assert browse("rita").post(reverse("portal:classification-override", args=[uc.pk]), {"tier": "", "justification": "x"}).status_code == 400
    # dana lowers the tier: a proposal; the page keeps tier 3 and says what waits.
    response = browse("dana").post(reverse("portal:classification", args=[uc.pk]), answers_form(LOW_RISK_ANSWERS), follow=True)
    body = response.content.decode()
    assert "Proposed: Lower the tier from 3 to 1" in body and 'id="pending-summary"' in body
    assert classification_current(use_case=uc).tier == 3
    proposal = proposals_pending().get()
    url = reverse("portal:proposal", args=[proposal.pk])
    assert 'value="confirm"' not in browse("dana").get(url).content.decode()
    assert browse("dana").post(url, {"decision": "confirm"}).status_code == 403
    assert browse("rita").post(url, {"decision": "reject", "comment": ""}).status_code == 400
    done = browse("rita").post(url, {"decision": "reject", "comment": "Still sector-regulated"}, follow=True)
    assert "Rejected; nothing changed." in done.content.decode()
    assert classification_current(use_case=uc).tier == 3
