"""Bad input to the experiments API answers the JSON error shape, never a 500 (issue 12)."""

import pytest
from django.test import override_settings

from abtests.models import Event

from .conftest import csv_body

pytestmark = pytest.mark.django_db


def _error(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and "request_id" in body
    return body


def test_a_non_numeric_experiment_id_is_404_json(api, make_experiment):
    exp = make_experiment("welch_t")
    client = api("dana")
    _error(client.get("/api/v1/experiments/x/analyses/1/"), 404)
    _error(client.get("/api/v1/experiments/x/assign/", {"unit": "u1"}), 404)
    _error(client.get(f"/api/v1/experiments/{exp.pk}/analyses/999999/"), 404)


def test_stop_with_a_json_array_body_is_400_json(api, make_experiment):
    exp = make_experiment("welch_t")
    body = _error(api("dana").post(f"/api/v1/experiments/{exp.pk}/stop/", [True], format="json"), 400)
    assert body["errors"]
    exp.refresh_from_db()
    assert exp.status == "running"  # nothing changed


def test_a_csv_with_a_utf8_byte_order_mark_is_accepted(make_experiment, upload):
    exp = make_experiment("welch_t")
    body = "\ufeff".encode() + csv_body(["unit_id", "arm", "value"], [("u1", "control", "1.5"), ("u2", "treatment", "2")])
    assert body.startswith(b"\xef\xbb\xbf")  # as Excel saves "CSV UTF-8"
    r = upload(exp, body)
    assert r.status_code == 201, r.content
    assert sorted(Event.objects.filter(experiment=exp).values_list("unit_id", flat=True)) == ["u1", "u2"]


def test_ndjson_with_a_byte_order_mark_is_accepted(make_experiment, upload):
    exp = make_experiment("welch_t")
    body = '\ufeff{"unit_id": "u1", "arm": "control", "value": 1}\n'.encode()
    assert upload(exp, body, content_type="application/x-ndjson").status_code == 201


def test_an_upload_over_the_limit_is_413_json_naming_the_field(make_experiment, upload):
    exp = make_experiment("welch_t")
    rows = [(f"u{i}", "control", "1.0") for i in range(200)]
    body = csv_body(["unit_id", "arm", "value"], rows)
    with override_settings(EVENTS_MAX_BYTES=len(body) - 1):
        error = _error(upload(exp, body), 413)
        assert error["code"] == "payload_too_large" and "body" in error["errors"]
        assert not Event.objects.filter(experiment=exp).exists()  # nothing stored
    with override_settings(EVENTS_MAX_BYTES=len(body)):
        assert upload(exp, body).status_code == 201


def test_an_upload_over_the_limit_without_content_length_is_413(make_experiment, cast):
    """A chunked body (no Content-Length) is cut off while it streams in."""
    import io

    from abtests.ingest import TooLarge, events_ingest

    exp = make_experiment("welch_t")
    body = csv_body(["unit_id", "arm", "value"], [(f"u{i}", "control", "1.0") for i in range(2000)])
    with override_settings(EVENTS_MAX_BYTES=1000), pytest.raises(TooLarge) as refused:
        events_ingest(actor=cast["dana"], experiment=exp, body=io.BytesIO(body), content_type="text/csv")
    assert refused.value.fields == {"body": ["At most 1,000 bytes per upload."]}
