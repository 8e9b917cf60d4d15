"""End to end in headless Chromium: sign-in, inventory browsing, the background job, lockout."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_data_scientist_browses_inventory_and_rechecks_artifact(page, login, inventory, celery_worker):
    login(page, "dana")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inventory").click()
    expect(page.get_by_role("heading", name="Inventory")).to_be_visible()

    page.get_by_label("Tag", exact=True).select_option("credit")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"tag=credit"))
    page.get_by_role("link", name="credit-gbm").click()

    expect(page.get_by_role("heading", name="credit-gbm")).to_be_visible()
    expect(page.get_by_role("link", name="accounts@1").first).to_be_visible()
    page.get_by_role("link", name="v1", exact=True).first.click()

    expect(page.get_by_role("heading", name="Metrics")).to_be_visible()
    page.get_by_role("button", name="Re-check artifact").click()
    # The partial polls /jobs/<id>/ until the worker has finished; no reload in between.
    expect(page.locator(".job[data-status='succeeded']")).to_contain_text("Artifact matches its SHA-256")


def test_auditor_sees_the_dashboard(page, login, inventory):
    login(page, "audrey")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("table", name="Model versions per stage")).to_contain_text("Development")
    expect(page.locator("#stage-chart")).to_be_visible()
    expect(page.get_by_role("heading", name="Governance events")).to_be_visible()
    expect(page.get_by_text("Registered a model version").first).to_be_visible()


def test_five_wrong_passwords_lock_the_account(page, attempt_login, cast):
    for _ in range(4):
        attempt_login(page, "omar", "not-the-password")
        expect(page.get_by_role("alert")).to_contain_text("username or password is not correct")
    attempt_login(page, "omar", "not-the-password")
    expect(page.get_by_role("heading", name="Account temporarily locked")).to_be_visible()
    attempt_login(page, "omar")  # even the right password is refused while locked
    expect(page.get_by_role("heading", name="Account temporarily locked")).to_be_visible()
