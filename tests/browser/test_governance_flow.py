"""End to end in headless Chromium: a risk officer classifies a use case, edits the policy matrix,
and signs the last move of a version to production that a data scientist requested through the API.

The earlier stage moves (development → qa → preproduction) are built through the API and the
services, as a second risk officer would sign them; the final approval is clicked in the portal.
"""

import re

import pytest
from playwright.sync_api import expect

from governance.models import PromotionRequest
from governance.promotions import signoff_approve

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (question legend, choice label): every answer scores nothing, so the tier is 1.
LOW_RISK_CHOICES = [
    ("Applicable regulations", "None specific"),
    ("Does the model use personal data?", "No"),
    ("Who consumes the results?", "One team"),
    ("Availability needs", "Ad hoc"),
    ("Impact of errors", "Low"),
    ("Release cadence", "Rarely"),
    ("Lifetime of the model and of its decisions", "Days to weeks"),
    ("Expected rate of quality decay", "Slow"),
    ("Need for explainability", "None"),
]


def request_via_api(api, stage) -> PromotionRequest:
    response = api("dana").post("/api/v1/promotions/", {"model": "credit-gbm", "version": 1, "target_stage": stage}, format="json")
    assert response.status_code == 201, response.content
    return PromotionRequest.objects.get(pk=response.json()["id"])


def test_risk_officer_classifies_edits_policy_and_approves_to_production(page, login, inventory, cast, api):
    login(page, "rita")

    # Classify the use case with the questionnaire; the tier shows before saving (htmx) and after.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Use cases").click()
    page.get_by_role("link", name="Credit limits").click()
    expect(page.get_by_text("Not classified yet")).to_be_visible()
    page.get_by_role("link", name="Classify this use case").click()
    for question, choice in LOW_RISK_CHOICES:
        page.get_by_role("group", name=question).get_by_label(choice, exact=True).check()
    expect(page.locator("#tier-preview")).to_contain_text("risk tier 1")
    page.get_by_label("Who accepts accountability for AI-driven mistakes?").fill("The retail credit committee")
    page.get_by_role("button", name="Classify").click()
    expect(page.get_by_role("status")).to_contain_text("Classified: risk tier 1")
    expect(page.locator("#tier-now")).to_contain_text("Risk tier 1")
    expect(page.get_by_role("region", name="Current tier")).to_contain_text("The retail credit committee")

    # Tier 1 asks one approval from anyone for production; make it two from risk officers.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    expect(page.get_by_role("heading", name=re.compile(r"Governance policy"))).to_contain_text("version 1")
    page.get_by_role("link", name="Edit tier 1, Human sign-off").click()
    page.locator("#text-0").fill("2 approvals from risk officers for production")
    page.locator("#role-0").select_option("risk_officer")
    page.locator("#count-0").fill("2")
    page.get_by_label("Why this change").fill("Four eyes before production")
    page.get_by_role("button", name="Save as new policy version").click()
    expect(page.get_by_role("status")).to_contain_text("Saved as policy version 2.")
    matrix = page.locator("#policy-matrix")
    expect(matrix).to_contain_text("2 approvals from risk officers for production")

    page.get_by_role("link", name="Version history").click()
    page.get_by_role("link", name="diff with v1").click()
    diff = page.locator("#policy-diff")
    expect(diff).to_contain_text("1 cell changed")
    expect(diff.locator("del")).to_contain_text("1 approval for production")
    expect(diff.locator("ins")).to_contain_text("2 approvals from risk officers for production")

    # dana moves v1 up to preproduction through the API; omar signs those moves.
    for stage in ("qa", "preproduction"):
        signoff_approve(promotion=request_via_api(api, stage), actor=cast["omar"], comment="ok")
    final = request_via_api(api, "production")
    assert final.policy.number == 2
    signoff_approve(promotion=final, actor=cast["omar"], comment="first of two")

    # rita gives the second risk-officer approval in the portal; the version goes to production.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    page.get_by_role("region", name="Needs my attention").get_by_role("link", name=re.compile("credit-gbm v1")).click()
    expect(page.get_by_role("table")).to_contain_text("1 of 2 from risk officers.")
    expect(page.locator(".facts")).to_contain_text("version 2")
    expect(page.locator("#slot-list")).to_contain_text("Filled — risk officer: omar")
    page.get_by_label("Comment").fill("Second pair of eyes: fine")
    page.get_by_role("button", name="Approve").click()
    # The approval completes the gates: the page says what it moves before it does.
    expect(page.locator("#confirm-approval")).to_contain_text("This approval moves credit-gbm v1 to production.")
    page.get_by_role("button", name="Confirm approval").click()
    expect(page.get_by_role("status")).to_contain_text("Your approval is recorded.")
    expect(page.locator("#promotion-status")).to_contain_text("Promoted")

    page.get_by_role("link", name="credit-gbm v1").click()
    expect(page.locator(".facts").first).to_contain_text("Production")
    page.get_by_role("link", name="credit-gbm").first.click()
    history = page.get_by_role("region", name="Sign-off history")
    expect(history).to_contain_text(f"#{final.pk}")
    expect(history).to_contain_text("v2, tier 1")
    expect(history).to_contain_text("rita approved")
    expect(history).to_contain_text("Second pair of eyes: fine")


def test_data_scientist_sees_raci_validation_in_place_and_no_policy_editing(page, login, inventory):
    login(page, "dana")
    page.goto(f"/use-cases/{inventory['use_case'].pk}/raci/")
    page.get_by_label("Model acceptance — Data scientists").select_option("A")
    page.get_by_label("Risk / audit", exact=True).fill("rita, nosuchuser")
    page.get_by_role("button", name="Save RACI").click()
    expect(page.locator("#task-model_acceptance")).to_contain_text("Model acceptance: Exactly one Accountable (A or A/R) is required; found 2.")
    expect(page.locator("#err-people-risk_audit")).to_contain_text("Unknown user(s): nosuchuser.")

    page.get_by_label("Model acceptance — Data scientists").select_option("R")
    page.get_by_label("Risk / audit", exact=True).fill("rita")
    page.get_by_role("button", name="Save RACI").click()
    # dana owns the use case: who approves moves changes only once a risk officer confirms.
    expect(page.get_by_role("status")).to_contain_text("Proposed: who approves moves changes once a risk officer confirms")
    expect(page.locator("#pending-raci")).to_contain_text("Waiting for a risk officer")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    expect(page.get_by_text("Only risk officers edit the policy.")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Edit tier"))).to_have_count(0)
