"""One experiment from design to decision in headless Chromium, analysed by a real Celery worker."""

import hashlib
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from abtests import planning

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOW_RISK = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


@pytest.fixture
def challenger(inventory, cast):
    """v2 of credit-gbm; the use case is classified and its RACI holds omar accountable for acceptance."""
    from governance.classification import classification_submit
    from governance.raci import raci_update
    from registry import services

    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=LOW_RISK)
    raci_update(actor=cast["rita"], use_case=inventory["use_case"], assignments={"risk_audit": ["omar"]})
    return services.model_version_register(
        actor=cast["dana"], model=inventory["model"], artifact_uri="s3://models/2", sha256=hashlib.sha256(b"2").hexdigest()
    )


def events_csv(n: int) -> bytes:
    rng = np.random.default_rng(7)
    rows = ["unit_id,arm,value"]
    for arm, mean in (("control", 20.0), ("treatment", 21.0)):
        rows += [f"{arm}-{i},{arm},{float(v)!r}" for i, v in enumerate(rng.normal(mean, 2.0, n))]
    return "\n".join(rows).encode()


def test_experiment_from_design_to_decision(page, login, api, cast, challenger, celery_worker):
    plan = planning.plan_compute(metric_type="continuous", mde=1.0, sd=2.0, daily_units=200)
    login(page, "dana")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Experiments").click()
    page.get_by_role("link", name="Design a new experiment").click()
    page.get_by_label("Model", exact=True).select_option("credit-gbm")
    page.get_by_role("button", name="Continue").click()

    # design: the sample size appears while typing
    page.get_by_label("Name", exact=True).fill("gbm v2 vs v1")
    expect(page.get_by_label("Champion (control) version")).to_have_value("1")
    expect(page.get_by_role("group", name="Challenger version(s)").get_by_label("v2 (Development)")).to_be_checked()
    page.get_by_label("Goal metric", exact=True).fill("revenue")
    page.get_by_label("Goal metric type").select_option("continuous")
    page.get_by_label("Test", exact=True).select_option("welch_t")
    page.get_by_label("Standard deviation").fill("2")
    page.get_by_label("Expected units per day").fill("200")
    page.get_by_label("Minimum detectable effect").press_sequentially("1")
    plan_panel = page.locator("#plan")
    expect(plan_panel.locator("[data-plan='n_per_arm']")).to_have_text(str(plan["n_per_arm"]))
    expect(plan_panel.locator("[data-plan='total_n']")).to_have_text(str(plan["total_n"]))
    expect(plan_panel.locator("[data-plan='days']")).to_have_text(str(plan["days"]))
    page.get_by_label("Alpha").fill("2")  # invalid: the partial says why, in place
    expect(plan_panel.locator("[data-field='alpha']")).to_contain_text("strictly between 0 and 1")
    page.get_by_label("Alpha").fill("0.05")
    expect(plan_panel.locator("[data-plan='n_per_arm']")).to_have_text(str(plan["n_per_arm"]))
    page.get_by_role("button", name="Create experiment").click()

    expect(page.get_by_role("heading", name="gbm v2 vs v1")).to_be_visible()
    page.get_by_role("button", name="Start experiment").click()
    expect(page.locator("#experiment-status")).to_have_text("Running")
    expect(page.locator("#protocol-lock")).to_contain_text("sha256")

    # serving happens elsewhere: the events arrive through the API
    exp_id = int(re.search(r"/experiments/(\d+)/", page.url).group(1))
    n = max(plan["n_per_arm"], 150)
    response = api("dana").generic("POST", f"/api/v1/experiments/{exp_id}/events/", events_csv(n), content_type="text/csv")
    assert response.status_code == 201, response.content
    page.reload()
    expect(page.get_by_text("The planned horizon is reached.")).to_be_visible()
    expect(page.get_by_role("table", name="Units per arm")).to_contain_text(str(n))

    # the analysis runs on the worker; results and chart appear without a reload
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("button", name="Run analysis").click()
    expect(page.locator("#analysis[data-analysis-status='completed']")).to_be_visible(timeout=30_000)
    expect(page.locator("#analysis")).to_contain_text("Significant, in favour of treatment")
    expect(page.get_by_role("table", name=re.compile("revenue: Welch"))).to_contain_text("Achieved power")
    expect(page.locator("#effect-chart-0")).to_be_visible()
    assert page.evaluate("Chart.getChart(document.getElementById('effect-chart-0')) !== undefined")
    assert page.evaluate("window.stillTheSamePage === true")
    expect(page.get_by_role("button", name="Record decision")).to_have_count(0)  # dana does not decide
    page.get_by_role("button", name="Sign out").click()

    # the person the RACI holds accountable decides; "adopt" opens a promotion request
    login(page, "omar")
    page.goto(f"/experiments/{exp_id}/")
    page.get_by_label("Adopt challenger").check()
    page.get_by_label("Rationale").fill("Revenue up by a significant margin.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("#decision-outcome")).to_contain_text("Adopt challenger: v2")
    expect(page.locator("#decision")).to_contain_text("omar")
    expect(page.locator("#experiment-status")).to_have_text("Decided")
    page.get_by_role("link", name=re.compile(r"promotion request #\d+")).click()
    expect(page.get_by_role("heading", name=re.compile("Promote credit-gbm v2"))).to_be_visible()
