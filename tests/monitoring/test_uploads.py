"""Reference profiles and production batches through the API."""

import numpy as np
import pytest

from audit.models import AuditEvent
from monitoring.models import Batch, Prediction, ReferenceProfile

from .conftest import W1, W2, base_url, frame, to_csv, to_ndjson, to_parquet

pytestmark = pytest.mark.django_db


def test_reference_profile_from_csv_infers_kinds_and_keeps_no_upload(monitored, api, settings, tmp_path):
    profile = ReferenceProfile.objects.get(version=monitored)
    kinds = {f["name"]: (f["kind"], f["source"]) for f in profile.features}
    assert kinds["x0"] == ("numeric", "inferred") and kinds["colour"] == ("categorical", "inferred")
    assert profile.rows == 2000 and not profile.feature("x0")["sampled"]
    assert profile.feature("colour")["counts"].keys() == {"red", "green", "blue"}
    data = api("audrey").get(base_url(monitored) + "reference/").json()
    assert data["rows"] == 2000 and len(data["features"]) == 6
    assert AuditEvent.objects.filter(action="monitoring.reference_upload").count() == 1
    from pathlib import Path

    media = Path(settings.MEDIA_ROOT)
    assert not any(p.name.startswith("ref") for p in media.rglob("*")) if media.exists() else True


def test_reference_kinds_from_input_signature_and_user_correction(inventory, cast, upload, api):
    from registry.models import ModelVersion

    version = inventory["version"]
    ModelVersion.objects.filter(pk=version.pk).update(input_signature={"inputs": [{"name": "x2", "type": "string"}]})
    version.refresh_from_db()
    data = frame(500, seed=3)
    data["x2"] = np.random.default_rng(0).integers(0, 4, 500)  # codes: numbers that are categories
    r = upload("dana", version, "reference", "ref.parquet", to_parquet(data))
    assert r.status_code == 201, r.json()
    kinds = {f["name"]: (f["kind"], f["source"]) for f in r.json()["features"]}
    assert kinds["x2"] == ("categorical", "signature")
    r = api("dana").patch(base_url(version) + "reference/", {"feature_types": {"x2": "numeric", "plan": "numeric"}}, format="json")
    assert r.status_code == 400 and "plan" in r.json()["errors"]["feature_types"][0]
    r = api("dana").patch(base_url(version) + "reference/", {"feature_types": {"x2": "numeric", "x3": "categorical"}}, format="json")
    assert r.status_code == 200, r.json()
    kinds = {f["name"]: (f["kind"], f["source"]) for f in r.json()["features"]}
    assert kinds["x2"] == ("numeric", "user") and kinds["x3"] == ("categorical", "user")


def test_sample_cap_keeps_a_uniform_sample_and_says_so(inventory, upload):
    r = upload("dana", inventory["version"], "reference", "ref.csv", to_csv(frame(3000, seed=4)), sample_cap=1000)
    assert r.status_code == 201
    x0 = next(f for f in r.json()["features"] if f["name"] == "x0")
    assert x0["sampled"] and x0["sample_size"] == 1000 and x0["n"] == 3000


def test_batch_in_three_formats_and_resend_stores_nothing_twice(monitored, upload, api):
    data = frame(300, seed=5)
    r1 = upload("dana", monitored, "batches", "b.csv", to_csv(data), **W1)
    assert r1.status_code == 201, r1.json()
    assert upload("dana", monitored, "batches", "b.ndjson", to_ndjson(frame(200, seed=6)), **W2).status_code == 201
    assert upload("dana", monitored, "batches", "b.parquet", to_parquet(frame(100, seed=7)), **W2).status_code == 201
    again = upload("dana", monitored, "batches", "b.csv", to_csv(data), **W1)
    assert again.status_code == 200 and again.json()["id"] == r1.json()["id"]
    assert Batch.objects.filter(version=monitored).count() == 3
    assert sorted(b["rows"] for b in api("dana").get(base_url(monitored) + "batches/").json()["results"]) == [100, 200, 300]


@pytest.mark.parametrize("name,mutate,row,field", [
    ("csv", lambda text: text.replace(b"\n", b"\nnot-a-number,", 1), None, None),
    ("ndjson", None, 3, "x1"),
])
def test_bad_row_rejects_the_batch_with_its_number_and_touches_nothing(monitored, upload, name, mutate, row, field):
    good = upload("dana", monitored, "batches", "good.csv", to_csv(frame(50, seed=8)), **W1)
    assert good.status_code == 201
    data = frame(10, seed=9)
    if name == "csv":
        data["x1"] = data["x1"].astype(object)
        data["x1"][6] = "oops"
        content, row, field = to_csv(data), 7, "x1"
    else:
        data["x1"] = data["x1"].astype(object)
        data["x1"][2] = "three"
        content = to_ndjson(data)
    r = upload("dana", monitored, "batches", f"bad.{name}", content, **W2)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid" and f"row {row}" in body["errors"]["file"][0] and field in body["errors"]["file"][0]
    assert Batch.objects.filter(version=monitored).count() == 1  # the good one, untouched


def test_bad_score_and_duplicate_row_ids_are_rejected_with_row_numbers(monitored, upload):
    data = frame(20, seed=10, scores=True)
    data["score"][4] = 1.5
    r = upload("dana", monitored, "batches", "s.csv", to_csv(data), **W1)
    assert r.status_code == 400 and "row 5" in r.json()["errors"]["file"][0]
    data = frame(20, seed=10, scores=True)
    data["row_id"][9] = data["row_id"][2]
    r = upload("dana", monitored, "batches", "s.csv", to_csv(data), **W1)
    assert r.status_code == 400 and "row 10" in r.json()["errors"]["file"][0]
    ok = upload("dana", monitored, "batches", "s.csv", to_csv(frame(20, seed=10, scores=True)), **W1)
    assert ok.status_code == 201 and Prediction.objects.filter(version=monitored).count() == 20
    # The same row ids in another file: rejected, naming the first one already stored.
    r = upload("dana", monitored, "batches", "t.csv", to_csv(frame(20, seed=11, scores=True)), **W2)
    assert r.status_code == 400 and "row 1" in r.json()["errors"]["file"][0]
    assert Prediction.objects.filter(version=monitored).count() == 20


def test_missing_column_and_missing_window_are_named(monitored, upload):
    data = frame(10, seed=12)
    del data["plan"]
    r = upload("dana", monitored, "batches", "b.csv", to_csv(data), **W1)
    assert r.status_code == 400 and "plan" in r.json()["errors"]["file"][0]
    r = upload("dana", monitored, "batches", "b.csv", to_csv(frame(10, seed=12)))
    assert r.status_code == 400 and set(r.json()["errors"]) >= {"window_start", "window_end"}


def test_labels_join_by_row_id_and_are_final(monitored, upload):
    upload("dana", monitored, "batches", "s.csv", to_csv(frame(10, seed=13, scores=True)), **W1)
    labels = b"row_id,label\nr0,1\nr1,0\nr2,1\n"
    r = upload("dana", monitored, "labels", "l.csv", labels)
    assert r.status_code == 200 and r.json() == {"rows": 3, "labelled": 3, "already_labelled": 0}
    assert upload("dana", monitored, "labels", "l.csv", labels).json()["labelled"] == 0  # re-sent: no change
    r = upload("dana", monitored, "labels", "l.csv", b"row_id,label\nr3,1\nr0,0\n")
    assert r.status_code == 400 and "row 2" in r.json()["errors"]["file"][0]
    assert Prediction.objects.get(version=monitored, row_id="r3").label is None  # nothing of the bad file stored
    r = upload("dana", monitored, "labels", "l.csv", b"row_id,label\nnope,1\n")
    assert r.status_code == 400 and "row 1" in r.json()["errors"]["file"][0]


def test_only_the_models_people_feed_it(monitored, upload):
    assert upload("sam", monitored, "batches", "b.csv", to_csv(frame(10, seed=14)), **W1).status_code == 403
    assert upload("audrey", monitored, "batches", "b.csv", to_csv(frame(10, seed=14)), **W1).status_code == 403
    assert upload("sam", monitored, "reference", "r.csv", to_csv(frame(10, seed=14))).status_code == 403


def test_reference_of_a_production_version_is_not_the_owners_to_replace(monitored, upload, cast):
    from registry.models import ModelVersion

    ModelVersion.objects.filter(pk=monitored.pk).update(stage="production")
    r = upload("dana", monitored, "reference", "r.csv", to_csv(frame(300, seed=15, shift=2.0)))
    assert r.status_code == 403  # else the owner could make drifted data the new normal
    assert ReferenceProfile.objects.get(version=monitored).rows == 2000
    assert upload("root", monitored, "reference", "r.csv", to_csv(frame(300, seed=15))).status_code == 201
