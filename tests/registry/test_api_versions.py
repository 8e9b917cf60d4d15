import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import BackgroundJob
from registry.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_upload_artifact_computes_sha_and_size(api, cast, inventory):
    blob = b"\x00\x01model-bytes" * 1000
    response = api("dana").post(
        "/api/v1/models/credit-gbm/versions/",
        {
            "artifact": SimpleUploadedFile("model.bin", blob),
            "framework": "xgboost",
            "code_commit": "deadbeef",
            "params": json.dumps({"depth": 6}),
            "metrics": json.dumps({"auc": 0.91}),
            "training_datasets": [inventory["datasets"][0].pk],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == 2
    assert body["sha256"] == hashlib.sha256(blob).hexdigest()
    assert body["size"] == len(blob)
    assert body["stage"] == "development"
    assert body["status"] == "pending"
    assert body["metrics"] == {"auc": 0.91}
    download = api("audrey").get(body["artifact_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == blob
    assert download["X-Checksum-SHA256"] == body["sha256"]
    job = BackgroundJob.objects.get(kind="artifact_verify", object_id=str(body["id"]))
    assert job.status == "pending"


def test_register_by_uri(api, cast, inventory):
    response = api("dana").post(
        "/api/v1/models/credit-gbm/versions/",
        {"artifact_uri": "s3://bucket/m.pkl", "sha256": "AB" * 32, "metrics": {"auc": 0.7}},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sha256"] == "ab" * 32
    assert body["status"] == "referenced"
    missing = api("dana").get("/api/v1/models/credit-gbm/versions/2/artifact/")
    assert missing.status_code == 404
    assert missing.json()["errors"]["artifact_uri"] == ["s3://bucket/m.pkl"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"artifact_uri": "s3://x"}, "sha256"),
        ({}, "artifact"),
        ({"artifact_uri": "s3://x", "sha256": "xyz"}, "sha256"),
        ({"artifact_uri": "s3://x", "sha256": "a" * 64, "metrics": [1, 2]}, "metrics"),
        ({"artifact_uri": "s3://x", "sha256": "a" * 64, "training_datasets": [99999]}, "training_datasets"),
        ({"artifact_uri": "s3://x", "sha256": "a" * 64, "code_commit": "not-hex!"}, "code_commit"),
    ],
)
def test_bad_version_input(api, cast, inventory, payload, field):
    response = api("dana").post("/api/v1/models/credit-gbm/versions/", payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert ModelVersion.objects.count() == 1  # nothing stored


def test_nan_metrics_rejected_in_multipart_and_json(api, cast, inventory):
    multipart = api("dana").post(
        "/api/v1/models/credit-gbm/versions/",
        {"artifact": SimpleUploadedFile("m.bin", b"x"), "metrics": '{"auc": NaN}'},
        format="multipart",
    )
    assert multipart.status_code == 400
    assert "metrics" in multipart.json()["errors"]
    raw = api("dana").post(
        "/api/v1/models/credit-gbm/versions/",
        data='{"artifact_uri": "s3://x", "sha256": "%s", "metrics": {"auc": Infinity}}' % ("a" * 64),
        content_type="application/json",
    )
    assert raw.status_code == 400
    assert ModelVersion.objects.count() == 1


def test_client_sha_must_match_upload(api, cast, inventory):
    response = api("dana").post(
        "/api/v1/models/credit-gbm/versions/",
        {"artifact": SimpleUploadedFile("m.bin", b"abc"), "sha256": "0" * 64},
        format="multipart",
    )
    assert response.status_code == 400
    assert "sha256" in response.json()["errors"]


def test_oversize_upload_is_413_and_stores_nothing(api, cast, inventory, settings):
    settings.ARTIFACT_MAX_BYTES = 1000
    response = api("dana").post(
        "/api/v1/models/credit-gbm/versions/",
        {"artifact": SimpleUploadedFile("big.bin", b"x" * 5000)},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert ModelVersion.objects.count() == 1


def test_versions_are_immutable_except_description_and_tags(api, cast, inventory):
    response = api("dana").patch(
        "/api/v1/models/credit-gbm/versions/1/", {"description": "first", "tags": ["baseline"], "sha256": "0" * 64}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "first" and body["tags"] == ["baseline"]
    assert body["sha256"] == inventory["version"].sha256


def test_list_versions_newest_first(api, cast, inventory):
    api("dana").post("/api/v1/models/credit-gbm/versions/", {"artifact_uri": "s3://2", "sha256": "b" * 64})
    body = api("audrey").get("/api/v1/models/credit-gbm/versions/").json()
    assert [v["number"] for v in body["results"]] == [2, 1]
    assert api("audrey").get("/api/v1/models/credit-gbm/versions/?stage=production").json()["count"] == 0
