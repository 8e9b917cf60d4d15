"""End to end: a risk officer signs off a promotion a data scientist requested through the API;
the data scientist cannot approve her own request."""

import pytest
from playwright.sync_api import expect

from governance import services as governance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOW_RISK_ANSWERS = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


@pytest.fixture
def requested(inventory, cast, api):
    governance.classification_submit(actor=cast["dana"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    response = api("dana").post(
        "/api/v1/promotions/", {"model": "credit-gbm", "version": 1, "target_stage": "qa"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_risk_officer_approves_from_the_inbox(page, login, requested):
    login(page, "rita")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign-offs").click()
    page.get_by_role("link", name=f"#{requested}").click()
    expect(page.get_by_role("heading", name="Gate checklist")).to_be_visible()
    page.get_by_label("Comment").fill("Validated on the holdout set")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Your approval is recorded.")
    expect(page.locator("#promotion-status")).to_contain_text("Promoted")
    page.get_by_role("link", name="credit-gbm v1").click()
    expect(page.locator(".facts").first).to_contain_text("QA")


def test_data_scientist_cannot_approve_her_own_request(page, login, requested):
    login(page, "dana")
    page.goto(f"/promotions/{requested}/")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("separation of duties")
    expect(page.locator("#promotion-status")).to_contain_text("Open")
