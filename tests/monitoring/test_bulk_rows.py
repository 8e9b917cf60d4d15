"""Production rows and labels checked by column and written in bulk (COPY on PostgreSQL): the
row named, nothing half-stored, re-sending idempotent (issue 12, "Ingest at the speed of the
database")."""

import numpy as np
import pytest
from django.db import connection

from audit.models import AuditEvent
from monitoring.models import Batch, Prediction

from .conftest import ALL, W1, W2, frame, to_csv, to_ndjson

pytestmark = pytest.mark.django_db


def _labels(pairs) -> bytes:
    return ("row_id,label\n" + "".join(f"{r},{v}\n" for r, v in pairs)).encode()


def test_a_repeated_row_id_at_the_end_of_a_large_batch_is_named(monitored, upload):
    data = frame(30_000, seed=20, scores=True)
    data["row_id"][-1] = data["row_id"][17]
    r = upload("dana", monitored, "batches", "b.csv", to_csv(data), **W1)
    assert r.status_code == 400, r.json()
    assert r.json()["errors"]["file"] == ["row 30000, column 'row_id': 'r17' appears twice in the file"]
    assert not Batch.objects.filter(version=monitored).exists()
    assert not Prediction.objects.filter(version=monitored).exists()
    assert not AuditEvent.objects.filter(action="monitoring.batch_upload").exists()


def test_missing_and_overlong_row_ids_are_named(monitored, upload):
    data = frame(50, seed=21, scores=True)
    data["row_id"] = data["row_id"].astype(object)
    data["row_id"][30] = "x" * 101
    r = upload("dana", monitored, "batches", "b.ndjson", to_ndjson(data), **W1)
    assert r.json()["errors"]["file"] == ["row 31, column 'row_id': longer than 100 characters"]
    data["row_id"][12] = None
    r = upload("dana", monitored, "batches", "b.ndjson", to_ndjson(data), **W1)
    assert r.json()["errors"]["file"] == ["row 13, column 'row_id': missing row id"]
    assert not Prediction.objects.filter(version=monitored).exists()


def test_a_row_id_sent_in_an_earlier_batch_is_named_and_nothing_is_stored(monitored, upload):
    assert upload("dana", monitored, "batches", "a.csv", to_csv(frame(5000, seed=22, scores=True)), **W1).status_code == 201
    later = frame(5000, seed=23, scores=True, start=5000)
    later["row_id"][4321] = "r77"
    r = upload("dana", monitored, "batches", "b.csv", to_csv(later), **W2)
    assert r.status_code == 400
    assert r.json()["errors"]["file"] == ["row 4322, column 'row_id': 'r77' was sent in an earlier batch"]
    assert Prediction.objects.filter(version=monitored).count() == 5000
    assert Batch.objects.filter(version=monitored).count() == 1


def test_rows_are_stored_as_sent_and_a_re_send_stores_nothing(monitored, upload):
    data = frame(4000, seed=24, scores=True)
    data["score"][7] = np.nan
    data["label"] = (np.arange(4000) % 3 == 0).astype(float)
    body = to_csv(data).replace(b",nan,", b",,")
    r = upload("dana", monitored, "batches", "a.csv", body, **W1)
    assert r.status_code == 201, r.json()
    stored = dict(Prediction.objects.filter(version=monitored).values_list("row_id", "score"))
    assert len(stored) == 4000 and stored["r7"] is None and stored["r8"] == data["score"][8]
    assert Prediction.objects.filter(version=monitored, label=1.0, labelled_at__isnull=False).count() == 1334
    assert Prediction.objects.filter(version=monitored, label__isnull=True, labelled_at__isnull=True).count() == 0
    again = upload("dana", monitored, "batches", "a.csv", body, **W1)
    assert again.status_code == 200
    assert Prediction.objects.filter(version=monitored).count() == 4000
    assert AuditEvent.objects.filter(action="monitoring.batch_upload").count() == 1


def test_labels_in_bulk_are_joined_once_and_final(monitored, upload):
    assert upload("dana", monitored, "batches", "a.csv", to_csv(frame(6000, seed=25, scores=True)), **ALL).status_code == 201
    labels = [(f"r{i}", i % 2) for i in range(0, 6000, 2)]
    r = upload("dana", monitored, "labels", "l.csv", _labels(labels))
    assert r.status_code == 200 and r.json() == {"rows": 3000, "labelled": 3000, "already_labelled": 0}
    assert Prediction.objects.filter(version=monitored, label__isnull=False).count() == 3000
    assert Prediction.objects.get(version=monitored, row_id="r4").label == 0.0
    # Re-sent with new rows: the new ones are labelled, the old ones left as they are.
    r = upload("dana", monitored, "labels", "l.csv", _labels(labels + [("r1", 1), ("r3", 0)]))
    assert r.json() == {"rows": 3002, "labelled": 2, "already_labelled": 3000}
    # A change of a stored label anywhere (here the last row) rejects the whole file.
    r = upload("dana", monitored, "labels", "l.csv", _labels([("r5", 1), *labels[:-1], ("r5998", 1)]))
    assert r.status_code == 400
    assert r.json()["errors"]["file"] == ["row 3001, column 'label': row 'r5998' already has label 0"]
    assert Prediction.objects.get(version=monitored, row_id="r5").label is None  # nothing of it stored
    assert AuditEvent.objects.filter(action="monitoring.labels_upload").count() == 2


def test_one_row_id_with_two_labels_in_a_file_is_refused(monitored, upload):
    upload("dana", monitored, "batches", "a.csv", to_csv(frame(10, seed=26, scores=True)), **W1)
    r = upload("dana", monitored, "labels", "l.csv", _labels([("r1", 1), ("r2", 0), ("r1", 1), ("r2", 1)]))
    assert r.status_code == 400
    assert r.json()["errors"]["file"] == ["row 4, column 'label': row 'r2' appears twice with different labels"]
    assert not Prediction.objects.filter(version=monitored, label__isnull=False).exists()
    r = upload("dana", monitored, "labels", "l.csv", _labels([("r1", 1), ("r1", 1)]))
    assert r.json() == {"rows": 2, "labelled": 2, "already_labelled": 0}
    assert Prediction.objects.get(version=monitored, row_id="r1").label == 1.0


@pytest.mark.postgres
def test_on_postgresql_rows_and_labels_go_in_with_copy(monitored, upload, copy_statements):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    statements = copy_statements
    assert upload("dana", monitored, "batches", "a.csv", to_csv(frame(3000, seed=27, scores=True)), **ALL).status_code == 201
    assert len(statements) == 1 and statements[0].startswith('COPY "monitoring_prediction" (')
    r = upload("dana", monitored, "labels", "l.csv", _labels([(f"r{i}", 1) for i in range(3000)]))
    assert r.json()["labelled"] == 3000
    assert len(statements) == 2 and statements[1].startswith('COPY "_bulk_monitoring_prediction" (')


def test_a_row_id_stored_by_a_concurrent_upload_is_a_409_and_nothing_is_stored(monitored, upload, monkeypatch):
    """Between the check and the write another upload stored the same id: the unique key stops
    the bulk write, and the answer is a JSON 409, not a 500."""
    from monitoring import ingest

    assert upload("dana", monitored, "batches", "a.csv", to_csv(frame(100, seed=28, scores=True)), **W1).status_code == 201
    monkeypatch.setattr(ingest, "_first_taken", lambda version, ids: None)  # the other upload is not yet visible
    r = upload("dana", monitored, "batches", "b.csv", to_csv(frame(100, seed=29, scores=True)), **W2)
    assert r.status_code == 409 and r.json()["errors"] == {"file": ["row ids sent concurrently"]}
    assert Batch.objects.filter(version=monitored).count() == 1
    assert Prediction.objects.filter(version=monitored).count() == 100
