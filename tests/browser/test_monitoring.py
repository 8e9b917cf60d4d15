"""End to end in headless Chromium: a drifted version's monitoring page says which features
drifted and why, draws the charts, and takes an alert from open to closed."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_risk_officer_sees_drift_and_closes_the_alert(page, login, inventory, cast):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from monitoring import ingest, services
    from monitoring.models import CheckPart
    from monitoring.tasks import check_part_task
    from tests.monitoring.conftest import frame, to_csv

    version = inventory["version"]
    dana = cast["dana"]
    for what, data in (("reference", frame(2000, seed=70)), ("batch", frame(3000, seed=71, shift=0.7, cat_shift=True))):
        f = SimpleUploadedFile(f"{what}.csv", to_csv(data))
        path = f"/tmp/steward-browser-{what}.csv"
        with open(path, "wb") as fh:
            fh.write(f.read())
        if what == "reference":
            ingest.reference_upload(actor=dana, version=version, path=path, filename="r.csv", sha256="a" * 64)
        else:
            ingest.batch_upload(actor=dana, version=version, path=path, filename="b.csv", sha256="b" * 64,
                                  window_start="2026-11-01T00:00:00Z", window_end="2026-11-02T00:00:00Z")
    from django.utils.dateparse import parse_datetime

    check = services.check_request(actor=dana, version=version, window_start=parse_datetime("2026-10-01T00:00:00Z"),
                                   window_end=parse_datetime("2026-12-01T00:00:00Z"))
    for job_id in CheckPart.objects.filter(check_run=check).values_list("job_id", flat=True):
        check_part_task(job_id)

    login(page, "rita")
    page.goto(f"/inventory/{version.model.name}/v/{version.number}/")
    page.get_by_role("link", name="Monitoring").click()
    expect(page.locator("#drift-status")).to_have_text("Dataset drift")
    expect(page.locator("#retraining")).to_be_visible()
    table = page.locator("#feature-table")
    expect(table.locator("tr[data-feature='x0'] .verdict")).to_have_text("drift")
    expect(table.locator("tr[data-feature='x0']")).to_contain_text("wasserstein")
    expect(table.locator("tr[data-feature='x3'] .verdict")).to_have_text("ok")
    expect(table.locator("tr[data-feature='colour']")).to_contain_text("jensenshannon")
    expect(page.get_by_text("3 of 6", exact=True)).to_be_visible()
    expect(page.locator("#statistic-chart")).to_be_visible()
    expect(page.locator("#distribution-chart")).to_be_visible()
    table.get_by_role("link", name="x0").click()
    expect(page.get_by_role("heading", name="x0: reference and current")).to_be_visible()
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_label("What was done").fill("Retraining v2 on October data")
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_text("Alert closed.")).to_be_visible()
    expect(page.get_by_text("No open alerts.")).to_be_visible()
