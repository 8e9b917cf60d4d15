"""The bias report API: upload, errors in the JSON shape, reads."""

from fairness.tasks import bias_report_compute_task

from .conftest import csv_upload, evaluation_frame

URL = "/api/v1/models/credit-gbm/versions/1/bias-reports/"


def test_upload_queues_a_report_that_the_worker_completes(governed, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = api("dana").post(URL, {"file": csv_upload(evaluation_frame())}, format="multipart")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending" and body["evaluation_set"]["rows"] == 3000
    bias_report_compute_task(body["job"])
    report = api("audrey").get(f"/api/v1/bias-reports/{body['id']}/").json()
    assert report["status"] == "completed" and report["passed"] is True
    assert [r["id"] for r in api("rita").get(URL).json()] == [body["id"]]


def test_bad_rows_answer_400_in_the_error_shape(governed, api):
    df = evaluation_frame(n=5).astype(str)
    df.loc[1, "label"] = "2"
    response = api("dana").post(URL, {"file": csv_upload(df)}, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["rows"] == ["row 2: label must be 0 or 1"]
    assert {"status", "code", "detail", "request_id"} <= set(body)


def test_auditors_read_but_do_not_upload(governed, api):
    response = api("audrey").post(URL, {"file": csv_upload(evaluation_frame(n=10))}, format="multipart")
    assert response.status_code == 403
    assert api("audrey").get(URL).status_code == 200


def test_sensitive_attributes_over_the_api(governed, api):
    use_case = governed["use_case"].pk
    url = f"/api/v1/use-cases/{use_case}/sensitive-attributes/"
    assert api("audrey").get(url).json()["attributes"] == ["gender"]
    assert api("dana").put(url, {"attributes": []}, format="json").status_code == 403
    response = api("dana").put(url, {"attributes": ["gender", "label"]}, format="json")
    assert response.status_code == 400 and "attributes" in response.json()["errors"]
    response = api("rita").put(url, {"attributes": ["gender", "age_band"], "intersections": [["gender", "age_band"]]}, format="json")
    assert response.json()["intersections"] == [["gender", "age_band"]]


def test_report_list_query_count_does_not_grow_with_reports(governed, api, cast, compute):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def reports_and_queries():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL)
        return len(response.json()), len(queries)

    client = api("rita")
    for _ in range(2):
        compute(actor=cast["dana"], version=governed["version"], upload=csv_upload(evaluation_frame(n=200)))
    client.get(URL)  # warm the caches
    # token, user and roles in one query, the version, its reports with everything joined.
    assert reports_and_queries() == (2, 3)
    for seed in range(2):
        compute(actor=cast["dana"], version=governed["version"], upload=csv_upload(evaluation_frame(n=200 + seed + 1)))
    assert reports_and_queries() == (4, 3)
