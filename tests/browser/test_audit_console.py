"""End to end in headless Chromium: an auditor (the role alone, no staff flag) filters the trail,
exports the filtered set and asks what was in production on a date."""

import csv
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance.classification import classification_submit
from governance.promotions import promotion_request, signoff_approve

from ..portal.conftest import LOW_RISK_ANSWERS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def promoted(inventory, cast):
    """credit-gbm v1 moved to QA with rita's approval (tier 1 needs one)."""
    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    promotion = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    return signoff_approve(promotion=promotion, actor=cast["rita"], comment="fine")


def test_auditor_filters_exports_and_asks_what_was_in_qa(page, login, promoted, cast, tmp_path):
    type(cast["audrey"]).objects.filter(pk=cast["audrey"].pk).update(is_staff=False)  # the role is what counts
    login(page, "audrey")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(page.locator("#chain-status").locator("..")).to_contain_text("Chain intact")

    page.get_by_label("Model").select_option("credit-gbm")
    page.get_by_label("Action").select_option("model_version.stage_change")
    page.get_by_role("button", name="Filter").click()
    events = page.get_by_role("list", name="Audit events, newest first").get_by_role("listitem")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("Moved a version to another stage")
    events.first.get_by_text("changes").click()
    stage = events.first.locator("tr", has=page.locator("th", has_text=re.compile(r"^Stage$")))
    expect(stage.locator("td.before")).to_have_text("Development")
    expect(stage.locator("td.after")).to_have_text("QA")

    page.set_viewport_size({"width": 1440, "height": 900})  # the list wraps; nothing is cut off
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440

    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["action"], r["object_repr"]) for r in rows] == [("model_version.stage_change", "credit-gbm v1")]

    page.get_by_role("link", name="What was in production?").click()
    page.get_by_label("On", exact=True).fill(timezone.localdate().isoformat())
    page.get_by_label("Stage").select_option("qa")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"stage=qa"))
    row = page.locator("table.pit tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("credit-gbm")
    expect(row).to_contain_text("rita")
    expect(row).to_contain_text("Policy v1")
