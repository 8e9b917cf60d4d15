"""End to end in headless Chromium: an auditor follows an erasure request from the Privacy page
to its impact and its closed obligations (one retrained, one risk-accepted by two people), and
is offered nothing to sign."""

import hashlib
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOW = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def closed_erasure(cast):
    from governance.classification import classification_submit
    from governance.raci import raci_update
    from privacy import services as privacy
    from registry import services as reg

    dana = cast["dana"]
    use_case = reg.use_case_create(actor=dana, name="Credit limits")
    classification_submit(actor=cast["omar"], use_case=use_case, answers=LOW)
    raci_update(actor=cast["omar"], use_case=use_case, assignments={"risk_audit": ["sam"]})

    def ds(name, parents=()):
        return reg.dataset_create(actor=dana, name=name, version="1", source_uri=f"s3://{name}", sha256=sha(name),
                                  contains_personal_data=True, legal_basis="contract", derived_from=parents)

    raw = ds("raw")
    cleaned = ds("cleaned", [raw])
    fresh = ds("fresh-extract")
    privacy.subject_keys_upload(actor=dana, dataset=raw, fileobj=SimpleUploadedFile("k.txt", b"alice\nbob\n"))
    credit = reg.model_create(actor=dana, name="credit-gbm", use_case=use_case)
    churn = reg.model_create(actor=dana, name="churn-lr", use_case=use_case)
    reg.model_version_register(actor=dana, model=credit, artifact_uri="s3://c1", sha256=sha("c1"), training_datasets=[cleaned])
    reg.model_version_register(actor=dana, model=churn, artifact_uri="s3://h1", sha256=sha("h1"), training_datasets=[raw])
    request = privacy.subject_request_create(actor=cast["rita"], kind="erasure", subject_key="alice", reference="DSR-7")
    retrained = reg.model_version_register(actor=dana, model=churn, artifact_uri="s3://h2", sha256=sha("h2"),
                                           training_datasets=[fresh])
    privacy.obligation_close_retrained(actor=dana, obligation=request.obligations.get(model=churn), version=retrained)
    accepted = request.obligations.get(model=credit)
    privacy.obligation_sign(actor=cast["rita"], obligation=accepted, statement="Residual risk is low")
    privacy.obligation_sign(actor=cast["sam"], obligation=accepted, statement="Accepted for Retail")
    return request


def test_auditor_follows_an_erasure_request_to_its_closed_obligations(page, login, closed_erasure):
    login(page, "audrey")
    page.get_by_role("link", name="Privacy").click()
    expect(page.get_by_role("heading", name="Data-subject requests")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Record"))).to_have_count(0)  # auditors record nothing
    page.get_by_role("link", name=re.compile(r"Erasure .*request #")).click()

    expect(page.locator("#impact-datasets")).to_contain_text("raw@1")
    expect(page.locator("#impact-datasets")).to_contain_text("cleaned@1")
    expect(page.locator("#impact-versions")).to_contain_text("credit-gbm v1")
    expect(page.locator("#impact-versions")).to_contain_text("churn-lr v1")
    expect(page.locator("#open-obligations")).to_have_text("0")

    credit = page.locator("article", has_text="credit-gbm")
    expect(credit.locator(".obligation-status")).to_contain_text("risk accepted")
    expect(credit.locator(".signatures")).to_contain_text("rita as risk_officer")
    expect(credit.locator(".signatures")).to_contain_text("sam as accountable")
    churn = page.locator("article", has_text="churn-lr")
    expect(churn.locator(".obligation-status")).to_contain_text("retrained")
    expect(churn).to_contain_text("Retrained as")
    expect(page.get_by_role("button", name=re.compile("risk acceptance|retrained without"))).to_have_count(0)

    # The same receipt as JSON, which an auditor can keep.
    page.get_by_role("link", name="Receipt as JSON").click()
    receipt = json.loads(page.locator("body").inner_text())
    assert receipt["reference"] == "DSR-7" and receipt["open_obligations"] == 0
    assert sorted(o["status"] for o in receipt["obligations"]) == ["accepted", "retrained"]
    assert "alice" not in json.dumps(receipt)
