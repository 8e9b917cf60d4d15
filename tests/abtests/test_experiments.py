"""Design, start (protocol lock), stop, through the API."""

import pytest

from abtests.models import Experiment
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

DESIGN = {
    "name": "New ranking", "model": "credit-gbm", "champion": 1, "challengers": [2],
    "metric_name": "conversion", "metric_type": "binary", "test": "two_proportion_z",
    "baseline": 0.5, "mde": 0.25, "power": 0.9, "daily_units": 50,
    "secondary_metrics": [{"name": "revenue", "type": "continuous"}],
}


def test_create_computes_the_plan_with_the_plan_code(api, versions):
    r = api("dana").post("/api/v1/experiments/", DESIGN, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    plan = api("dana").post("/api/v1/experiments/plan/", {"metric_type": "binary", "baseline": 0.5, "mde": 0.25, "power": 0.9,
                                                          "daily_units": 50}, format="json").json()
    assert (body["n_per_arm"], body["total_n"], body["days"]) == (plan["n_per_arm"], plan["total_n"], plan["days"])
    assert [(a["name"], a["version"]) for a in body["arms"]] == [("control", 1), ("treatment", 2)]
    assert body["status"] == "draft" and body["salt"]
    assert AuditEvent.objects.filter(action="experiment.create", object_id=str(body["id"])).exists()
    assert api("audrey").get(f"/api/v1/experiments/{body['id']}/").status_code == 200
    assert api("audrey").get("/api/v1/experiments/").json()["count"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"test": "welch_t"}, "test"),  # a continuous test for a binary metric
        ({"kind": "shadow"}, "test"),
        ({"challengers": [1]}, "challengers"),
        ({"challengers": [9]}, "challengers"),
        ({"model": "nope"}, "model"),
        ({"allocation": [1, 1, 1]}, "allocation"),
        ({"sequential": "obf"}, "looks"),
        ({"secondary_metrics": [{"name": "conversion", "type": "binary"}]}, "secondary_metrics"),
    ],
)
def test_bad_design_is_400_with_the_field(api, versions, change, field):
    r = api("dana").post("/api/v1/experiments/", {**DESIGN, **change}, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"]


def test_only_writers_of_the_model_create(api, versions):
    assert api("sam").post("/api/v1/experiments/", DESIGN, format="json").status_code == 403
    assert api("audrey").post("/api/v1/experiments/", DESIGN, format="json").status_code == 403


def test_draft_can_change_and_replans(api, versions):
    exp_id = api("dana").post("/api/v1/experiments/", DESIGN, format="json").json()["id"]
    r = api("dana").patch(f"/api/v1/experiments/{exp_id}/", {"mde": 0.1, "challengers": [2, 3]}, format="json")
    assert r.status_code == 200, r.content
    assert [a["name"] for a in r.json()["arms"]] == ["v1", "v2", "v3"]
    assert r.json()["n_per_arm"] > 77
    assert AuditEvent.objects.filter(action="experiment.update", object_id=str(exp_id)).exists()


def test_start_locks_the_protocol_and_the_refusal_is_audited(api, versions):
    exp_id = api("dana").post("/api/v1/experiments/", DESIGN, format="json").json()["id"]
    r = api("dana").post(f"/api/v1/experiments/{exp_id}/start/")
    assert r.status_code == 200 and r.json()["status"] == "running" and r.json()["started_at"]
    start = AuditEvent.objects.get(action="experiment.start", object_id=str(exp_id))
    assert len(start.changes["protocol_sha256"]["after"]) == 64

    r = api("dana").patch(f"/api/v1/experiments/{exp_id}/", {"alpha": 0.1}, format="json")
    assert r.status_code == 409, r.content
    assert r.json()["code"] == "protocol_locked"
    refused = AuditEvent.objects.get(action="experiment.change_refused", object_id=str(exp_id))
    assert refused.changes["attempted"]["after"] == {"alpha": 0.1}
    assert refused.actor_username == "dana"
    assert Experiment.objects.get(pk=exp_id).alpha == 0.05
    assert api("dana").post(f"/api/v1/experiments/{exp_id}/start/").status_code == 409


def test_stop_before_the_horizon_is_recorded_as_early(api, versions):
    exp_id = api("dana").post("/api/v1/experiments/", DESIGN, format="json").json()["id"]
    api("dana").post(f"/api/v1/experiments/{exp_id}/start/")
    r = api("dana").post(f"/api/v1/experiments/{exp_id}/stop/", {"reason": "bug in logging"}, format="json")
    assert r.status_code == 200
    assert r.json()["status"] == "stopped" and r.json()["stopped_early"] is True
    event = AuditEvent.objects.get(action="experiment.stop", object_id=str(exp_id))
    assert event.changes["stopped_early"]["after"] is True
    assert api("dana").post(f"/api/v1/experiments/{exp_id}/stop/").status_code == 409


def test_list_and_detail_query_counts(api, make_experiment, upload, analyse, django_assert_num_queries):
    exp = make_experiment("welch_t")
    make_experiment("two_proportion_z", name="second")
    client = api("audrey")
    client.get("/api/v1/me/")
    # token with its user and roles (one query); count, experiments (with model and creator), arms,
    # their versions
    with django_assert_num_queries(5):
        assert client.get("/api/v1/experiments/").json()["count"] == 2
    # token with its user and roles; experiment, arms, versions
    with django_assert_num_queries(4):
        assert client.get(f"/api/v1/experiments/{exp.pk}/").status_code == 200
    upload(exp, b"unit_id,arm,value\na,control,1\nb,treatment,2\n")
    analysis_id = analyse(exp)["id"]
    # token with its user and roles; the analysis
    with django_assert_num_queries(2):
        assert client.get(f"/api/v1/experiments/{exp.pk}/analyses/{analysis_id}/").status_code == 200
