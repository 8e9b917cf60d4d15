"""End to end in headless Chromium: an auditor browses the audit trail in the admin console,
exports a filtered selection as CSV, and can change nothing."""

import csv
import re

import pytest
from playwright.sync_api import expect

from registry.models import RegisteredModel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def audrey_on_staff(cast):
    # seed_demo makes auditors staff; the admin console admits only staff.
    cast["audrey"].is_staff = True
    cast["audrey"].save(update_fields=["is_staff"])
    return cast["audrey"]


def test_auditor_filters_and_exports_the_trail(page, login, inventory, audrey_on_staff, tmp_path):
    login(page, "audrey")
    page.goto("/admin/audit/auditevent/")  # the portal's Audit link leads to the console (test_audit_console.py)
    expect(page.locator("#chain-status")).to_contain_text("Hash chain intact")

    filters = page.locator("#changelist-filter")
    filters.get_by_role("link", name="dana", exact=True).click()
    expect(page).to_have_url(re.compile(r"actor_username=dana"))
    page.locator("#changelist-filter").get_by_role("link", name="dataset.create", exact=True).click()
    expect(page).to_have_url(re.compile(r"action=dataset.create"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)

    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option("export_csv")
    with page.expect_download() as info:
        page.get_by_role("button", name="Go").click()
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with open(path, newline="") as f:
        exported = list(csv.DictReader(f))
    assert [(r["actor_username"], r["action"]) for r in exported] == [("dana", "dataset.create")] * 2
    assert sorted(r["object_repr"] for r in exported) == ["accounts@1", "bureau@1"]
    assert all(len(r["hash"]) == 64 for r in exported)

    # The export itself is on the trail.
    page.goto("/admin/audit/auditevent/?action=audit.export")
    expect(page.locator("#result_list")).to_contain_text("audrey")


def test_auditor_cannot_change_anything(page, login, inventory, audrey_on_staff):
    model = inventory["model"]
    login(page, "audrey")
    page.goto("/admin/registry/registeredmodel/")
    expect(page.locator("#result_list")).to_contain_text("credit-gbm")
    expect(page.get_by_role("link", name=re.compile(r"^Add "))).to_have_count(0)
    expect(page.locator("select[name=action] option[value=delete_selected]")).to_have_count(0)

    page.locator("#result_list").get_by_role("link", name="credit-gbm").click()
    expect(page.get_by_role("heading", name=re.compile(r"^View registered model"))).to_be_visible()
    for name in ("Save", "Save and continue editing", "Save and add another"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)

    # A forged POST with a valid CSRF token is refused for want of permission, not of the token.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"/admin/registry/registeredmodel/{model.pk}/change/",
        form={"csrfmiddlewaretoken": token, "name": "renamed", "description": "tampered"},
    )
    assert response.status == 403
    assert "CSRF" not in response.text()
    deleted = page.request.post(f"/admin/registry/registeredmodel/{model.pk}/delete/", form={"csrfmiddlewaretoken": token, "post": "yes"})
    assert deleted.status == 403
    model.refresh_from_db()
    assert (model.name, model.description) == ("credit-gbm", inventory["model"].description)
    assert RegisteredModel.objects.filter(pk=model.pk).exists()
