"""A risk officer opens a version whose bias gate fails and sees which group and metric failed
and why, then follows the evidence to the bias report page."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def failing(inventory, cast):
    from fairness import services as fairness
    from fairness.tasks import bias_report_compute_task
    from governance.classification import classification_submit
    from governance.policy import policy_update
    from governance.promotions import promotion_request
    from governance.selectors import policy_current
    from tests.fairness.conftest import BIAS_PARAMS, LOW, csv_upload, evaluation_frame

    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=LOW)
    data = policy_current().data
    data["tiers"]["1"]["bias_harm"] = [{"text": "Bias report by gender", "gate": "bias_report",
                                        "params": dict(BIAS_PARAMS), "stages": ["qa"]}]
    policy_update(actor=cast["rita"], data=data)
    fairness.sensitive_attributes_set(actor=cast["rita"], use_case=inventory["use_case"], attributes=["gender"])
    report = fairness.bias_report_request(actor=cast["dana"], version=inventory["version"],
                                          upload=csv_upload(evaluation_frame(unfair=True)))
    bias_report_compute_task(report.job_id)
    return promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")


def test_risk_officer_sees_which_group_and_metric_failed(page, login, failing):
    login(page, "rita")
    page.goto(f"/promotions/{failing.pk}/")
    row = page.locator("tr", has_text="Bias report by gender")
    expect(row).to_contain_text("Missing")
    expect(row).to_contain_text("gender: Demographic parity difference")
    expect(row).to_contain_text("selection rate m")
    row.get_by_role("link", name="evidence").click()
    expect(page.get_by_role("heading", name="Bias report")).to_be_visible()
    expect(page.locator("#verdict")).to_contain_text("fails")
    expect(page.locator("#failures")).to_contain_text("gender: Demographic parity difference")
    expect(page.locator("#failures")).to_contain_text("BH-adjusted p")
    failed = page.locator("#judgements tr[data-status='fail']")
    expect(failed.first).to_contain_text("demographic_parity_difference")
    expect(page.get_by_role("button", name="Upload and compute")).to_have_count(0)  # risk officers read
    expect(page.locator("#fairness-chart-0")).to_be_visible()
    page.wait_for_function("() => typeof Chart !== 'undefined' && !!Chart.getChart(document.getElementById('fairness-chart-0'))")
    drawn = page.evaluate("() => document.querySelectorAll('canvas[id^=fairness-chart-]').length")
    assert drawn == len(page.evaluate("() => JSON.parse(document.getElementById('fairness-chart-data').textContent)"))
