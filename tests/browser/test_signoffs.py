"""End to end: a risk officer signs off a promotion a data scientist requested through the API;
the data scientist cannot approve her own request; an auditor sees no Approve button and a
forged post is refused; a risk officer confirms a data scientist's reclassification."""

import pytest
from playwright.sync_api import expect

from governance.classification import classification_submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOW_RISK_ANSWERS = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


@pytest.fixture
def requested(inventory, cast, api):
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
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
    expect(page.locator("#slot-list")).to_contain_text("Open — anyone who may approve")
    page.get_by_label("Comment").fill("Validated on the holdout set")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#confirm-approval")).to_contain_text("This approval moves credit-gbm v1 to qa.")
    page.get_by_role("button", name="Confirm approval").click()
    expect(page.get_by_role("status")).to_contain_text("Your approval is recorded.")
    expect(page.locator("#promotion-status")).to_contain_text("Promoted")
    page.get_by_role("link", name="credit-gbm v1").click()
    expect(page.locator(".facts").first).to_contain_text("QA")


def test_data_scientist_cannot_approve_her_own_request(page, login, requested):
    login(page, "dana")
    page.goto(f"/promotions/{requested}/")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.locator("#why-not")).to_contain_text("separation of duties")
    expect(page.locator("#promotion-status")).to_contain_text("Open")


def test_auditor_sees_no_approve_button_and_a_forged_post_is_refused(page, login, requested):
    from governance.models import PromotionRequest

    login(page, "audrey")
    page.goto(f"/promotions/{requested}/")
    expect(page.get_by_role("heading", name="Approvals this move needs")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)
    expect(page.locator("#why-not")).to_contain_text("auditors read; they do not approve")
    # A hand-made form post with the page's CSRF token is refused by the service.
    status = page.evaluate("""async () => {
        const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
        const body = new URLSearchParams({decision: 'approve', confirmed: 'yes', comment: 'forged', csrfmiddlewaretoken: token});
        const r = await fetch(location.pathname, {method: 'POST', body, redirect: 'manual'});
        return r.status;
    }""")
    assert status == 403
    assert PromotionRequest.objects.get(pk=requested).status == "open"


def test_risk_officer_confirms_a_data_scientists_reclassification(page, login, inventory, cast):
    from governance.models import Classification

    uc = inventory["use_case"]
    classification_submit(actor=cast["rita"], use_case=uc, answers={**LOW_RISK_ANSWERS, "regulation": "sector"})
    proposal = classification_submit(actor=cast["dana"], use_case=uc, answers=LOW_RISK_ANSWERS)
    login(page, "omar")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign-offs").click()
    page.get_by_role("link", name="1 governance change to confirm").click()
    page.get_by_role("link", name="Lower the tier from 3 to 1").click()
    changes = page.get_by_role("region", name="What would change")
    expect(changes).to_contain_text("Applicable regulations")
    expect(changes).to_contain_text("Sector-specific regulation (banking, health, …) → None specific")
    page.get_by_label("Comment").fill("Not regulated after all: agreed")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_contain_text("Confirmed: Lower the tier from 3 to 1")
    expect(page.locator("#proposal-status")).to_contain_text("Confirmed — omar")
    current = Classification.objects.filter(use_case=uc).order_by("-pk").first()
    assert current.tier == 1 and current.confirmed_by == cast["omar"] and proposal.pk
