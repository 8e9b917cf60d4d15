"""The bias report page, its exports and the upload form."""

import csv
import io

from django.test import Client

from fairness.models import BiasReport

from .conftest import csv_upload, evaluation_frame

PAGE = "/inventory/credit-gbm/v/1/fairness/"


def client(user):
    c = Client()
    c.force_login(user)
    return c


def test_page_names_the_failing_group_and_metric_and_exports(governed, cast, compute):
    report = compute(actor=cast["dana"], version=governed["version"], upload=csv_upload(evaluation_frame(unfair=True)))
    page = client(cast["audrey"]).get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "gender: Demographic parity difference" in html and "fails" in html
    assert 'id="fairness-chart-0"' in html and "fairness-chart-data" in html
    assert "Upload an evaluation set" not in html  # auditors read only
    rows = list(csv.DictReader(io.StringIO(client(cast["rita"]).get(PAGE + "report.csv").content.decode())))
    dp = next(r for r in rows if r["attribute"] == "gender" and r["metric"] == "demographic_parity_difference")
    assert dp["status"] == "fail"
    assert float(dp["value"]) == round(report.results["attributes"]["gender"]["disparities"]["demographic_parity_difference"]["value"], 4)
    md = client(cast["rita"]).get(PAGE + "report.md").content.decode()
    assert "# Bias report credit-gbm v1" in md and "| gender | Demographic parity difference |" in md


def test_owner_uploads_from_the_page_and_others_are_refused(governed, cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = client(cast["dana"]).post(PAGE + "upload/", {"file": csv_upload(evaluation_frame())})
    assert response.status_code == 302
    assert BiasReport.objects.filter(status="pending").count() == 1
    response = client(cast["rita"]).post(PAGE + "upload/", {"file": csv_upload(evaluation_frame())}, follow=True)
    assert "Only the version&#x27;s owners" in response.content.decode() or "Only the version's owners" in response.content.decode()
    assert BiasReport.objects.count() == 1
    assert "Upload an evaluation set" in client(cast["dana"]).get(PAGE).content.decode()


def test_bad_rows_are_listed_on_the_page(governed, cast):
    df = evaluation_frame(n=5).astype(str)
    df.loc[3, "prediction"] = "maybe"
    response = client(cast["dana"]).post(PAGE + "upload/", {"file": csv_upload(df)}, follow=True)
    assert "row 4: prediction must be 0 or 1" in response.content.decode()
