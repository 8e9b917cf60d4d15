"""End to end in headless Chromium: a data scientist registers a version with an artifact (the
upload is sent by script so the page shows its progress), sees the checklist, requests the next stage and finds the request in
"My requests"."""

import re

import pytest
from playwright.sync_api import expect

from governance.classification import classification_submit
from registry.models import ModelVersion

from ..portal.conftest import LOW_RISK_ANSWERS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_data_scientist_registers_a_version_and_requests_qa(page, login, inventory, cast):
    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    login(page, "dana")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My work").click()
    page.get_by_role("link", name="Register a version").click()

    page.locator("#id_artifact").set_input_files({"name": "model.pkl", "mimeType": "application/octet-stream", "buffer": b"w" * 200_000})
    page.get_by_role("group", name="Training datasets").get_by_label("accounts@1").check()
    page.get_by_label("Metrics").fill("auc = 0.84")
    with page.expect_response(lambda r: r.url.endswith("/versions/new/") and r.request.method == "POST") as posted:
        page.get_by_role("button", name="Register version").click()
    # Sent by the page's script (XMLHttpRequest, whose upload events drive the progress bar).
    assert posted.value.request.headers["x-requested-with"] == "XMLHttpRequest" and posted.value.status == 201
    page.wait_for_url(re.compile(r"/inventory/credit-gbm/v/2/$"))
    expect(page.get_by_role("status")).to_contain_text("credit-gbm v2 is registered")
    version = ModelVersion.objects.get(model__name="credit-gbm", number=2)
    assert version.size == 200_000 and version.metrics == {"auc": 0.84}

    expect(page.locator("#draft-checklist")).to_contain_text("1 approval from anyone who may approve")
    page.get_by_role("button", name="Request QA").click()
    expect(page).to_have_url(re.compile(r"/promotions/\d+/$"))
    page.goto("/sign-offs/#my-requests")
    expect(page.locator("#my-requests").locator("..")).to_contain_text("credit-gbm v2")


def test_upload_form_shows_progress_and_the_services_error_in_place(page, login, inventory):
    login(page, "dana")
    page.goto("/inventory/credit-gbm/versions/new/")
    page.get_by_label("Metrics").fill("auc = 0.84")
    page.get_by_role("button", name="Register version").click()  # no artifact: the service refuses
    expect(page.locator(".field.invalid")).to_contain_text("Upload a file in 'artifact'")
    expect(page).to_have_url(re.compile(r"/versions/new/$"))
    expect(page.get_by_label("Metrics")).to_have_value("auc = 0.84")
