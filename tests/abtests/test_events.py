"""Event ingest: CSV and NDJSON, whole-batch validation, idempotent re-upload, running only."""

import pytest

from abtests.models import Event, EventBatch

from .conftest import ab_csv, csv_body, ndjson_body, shadow_csv

pytestmark = pytest.mark.django_db


def test_csv_upload_stores_every_row(make_experiment, upload):
    exp = make_experiment("welch_t")
    r = upload(exp, ab_csv([1.0, 2.5, 3.0], [4.0, 5.5]))
    assert r.status_code == 201, r.content
    assert r.json()["rows"] == 5 and r.json()["stored"] == 5 and r.json()["duplicate"] is False
    assert sorted(Event.objects.filter(experiment=exp, arm__name="treatment").values_list("value", flat=True)) == [4.0, 5.5]


def test_ndjson_upload_with_event_ids_timestamps_and_secondary_metrics(make_experiment, upload):
    exp = make_experiment("welch_t", secondary_metrics=[{"name": "clicked", "type": "binary"}])
    body = ndjson_body([
        {"unit_id": "a", "arm": "control", "value": 1.5, "event_id": "e1", "timestamp": "2026-01-02T03:04:05Z", "clicked": 1},
        {"unit_id": "b", "arm": "treatment", "value": None, "event_id": "e2"},
    ])
    r = upload(exp, body, content_type="application/x-ndjson")
    assert r.status_code == 201, r.content
    first = Event.objects.get(experiment=exp, event_id="e1")
    assert first.metrics == {"clicked": 1.0} and first.timestamp.year == 2026
    assert Event.objects.get(experiment=exp, event_id="e2").value is None  # missing outcome, counted in data quality


def test_same_body_twice_is_stored_once(make_experiment, upload):
    exp = make_experiment("welch_t")
    body = ab_csv([1.0, 2.0], [3.0])
    assert upload(exp, body).status_code == 201
    again = upload(exp, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Event.objects.filter(experiment=exp).count() == 3
    assert EventBatch.objects.filter(experiment=exp).count() == 1


def test_event_ids_deduplicate_across_batches(make_experiment, upload):
    exp = make_experiment("welch_t")
    upload(exp, csv_body(["unit_id", "arm", "value", "event_id"], [("a", "control", "1", "x1"), ("b", "treatment", "2", "x2")]))
    r = upload(exp, csv_body(["unit_id", "arm", "value", "event_id"], [("a", "control", "1", "x1"), ("c", "control", "3", "x3")]))
    assert r.status_code == 201 and r.json()["rows"] == 2 and r.json()["stored"] == 1
    assert Event.objects.filter(experiment=exp).count() == 3


def test_a_bad_row_rejects_the_batch_and_leaves_earlier_batches_alone(make_experiment, upload):
    exp = make_experiment("two_proportion_z")
    assert upload(exp, ab_csv([0, 1, 1], [1, 0])).status_code == 201
    bad = csv_body(
        ["unit_id", "arm", "value"],
        [("u1", "control", "1"), ("u2", "treatment", "0.5"), ("u3", "placebo", "1"), ("", "control", "0"), ("u5", "control", "x")],
    )
    r = upload(exp, bad)
    assert r.status_code == 400, r.content
    rows = r.json()["errors"]["rows"]
    assert rows[0].startswith("row 2: value: must be 0 or 1")
    assert rows[1].startswith("row 3: arm: unknown arm 'placebo'")
    assert rows[2].startswith("row 4: unit_id: required")
    assert rows[3].startswith("row 5: value: not a number")
    assert len(rows) == 4
    assert Event.objects.filter(experiment=exp).count() == 5  # the first batch only
    assert EventBatch.objects.filter(experiment=exp).count() == 1


def test_ndjson_row_numbers_and_bad_json(make_experiment, upload):
    exp = make_experiment("welch_t")
    body = b'{"unit_id": "a", "arm": "control", "value": 1}\nnot json\n{"unit_id": "b", "arm": "control", "value": 1, "colour": 2}\n'
    r = upload(exp, body, content_type="application/x-ndjson")
    assert r.status_code == 400
    assert r.json()["errors"]["rows"] == ["row 2: not valid JSON", "row 3: unknown field(s): colour"]
    assert not Event.objects.filter(experiment=exp).exists()


def test_header_and_content_type_are_checked(make_experiment, upload):
    exp = make_experiment("welch_t")
    r = upload(exp, csv_body(["unit_id", "value"], [("a", "1")]))
    assert r.status_code == 400 and "header" in r.json()["errors"]
    r = upload(exp, b"x", content_type="application/xml")
    assert r.status_code == 400 and "content_type" in r.json()["errors"]


def test_shadow_rows(make_experiment, upload):
    exp = make_experiment("paired_t")
    r = upload(exp, shadow_csv([0.5, 1.0], [0.25, 1.5]))
    assert r.status_code == 201, r.content
    assert sorted(Event.objects.filter(experiment=exp).values_list("champion_value", "challenger_value")) == [(0.5, 0.25), (1.0, 1.5)]


def test_only_while_running_and_only_by_model_writers(make_experiment, upload):
    draft = make_experiment("welch_t", start=False)
    assert upload(draft, ab_csv([1.0], [2.0])).status_code == 409
    running = make_experiment("welch_t", name="other")
    assert upload(running, ab_csv([1.0], [2.0]), user="sam").status_code == 403
    assert upload(running, ab_csv([1.0], [2.0]), user="audrey").status_code == 403


def test_large_upload_is_inserted_in_chunks(make_experiment, upload, monkeypatch):
    from core import bulk

    monkeypatch.setattr(bulk, "SQLITE_CHUNK", 100)
    monkeypatch.setattr(bulk, "BLOCK_ROWS", 100)
    exp = make_experiment("welch_t")
    r = upload(exp, ab_csv([float(i) for i in range(450)], [float(i) for i in range(333)]))
    assert r.status_code == 201 and r.json()["stored"] == 783
