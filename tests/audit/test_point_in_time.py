"""Point-in-time answers rebuilt from the trail, against a history built through the services."""

import hashlib
from datetime import timedelta

import pytest

from audit.context import audit_context
from audit.selectors import stage_snapshot
from registry import services

pytestmark = pytest.mark.django_db


def _register(dana, model, n):
    return services.model_version_register(
        actor=dana, model=model, artifact_uri=f"s3://models/{n}", sha256=hashlib.sha256(str(n).encode()).hexdigest()
    )


def _move(version, stage, actor, **evidence):
    return services.model_version_set_stage(version=version, stage=stage, actor=actor, reason=f"to {stage}", evidence=evidence)


@pytest.fixture
def history(cast, frozen, jan):
    """credit-gbm: v1 climbs to production by Jan 4; v2 (registered Jan 4) replaces it on Jan 6.
    churn: one version, registered Jan 2 and left in development."""
    dana, rita, omar = cast["dana"], cast["rita"], cast["omar"]
    with frozen(jan(1)):
        use_case = services.use_case_create(actor=dana, name="Credit", purpose="Limits")
        credit = services.model_create(actor=dana, name="credit-gbm", use_case=use_case)
        v1 = _register(dana, credit, 1)
    with frozen(jan(2)):
        churn = services.model_create(actor=dana, name="churn", use_case=use_case)
        c1 = _register(dana, churn, 10)
        _move(v1, "qa", rita, promotion=1, approved_by=["rita"], policy_version=1)
    with frozen(jan(3)):
        _move(v1, "preproduction", rita, promotion=2, approved_by=["rita", "omar"], policy_version=1)
    with frozen(jan(4)), audit_context(request_id="req-v1-prod"):
        _move(v1, "production", omar, promotion=3, approved_by=["omar"], policy_version=2)
    with frozen(jan(4, 13)):
        v2 = _register(dana, credit, 2)
    with frozen(jan(5)):
        _move(v2, "qa", rita, promotion=4, approved_by=["rita"], policy_version=2)
        _move(v2, "preproduction", rita, promotion=5, approved_by=["rita"], policy_version=2)
    with frozen(jan(6)), audit_context(request_id="req-v2-prod"):
        # At most one version in production: v1 leaves first (governance does both in one transaction).
        _move(v1, "archived", omar, replaced_by=v2.number)
        _move(v2, "production", omar, promotion=6, approved_by=["omar", "rita"], policy_version=3)
    return {"v1": v1, "v2": v2, "c1": c1}


def _stages(snapshot):
    """{model: {stage: [version numbers]}} — the shape of the truth we compare with."""
    return {m["model"]: {s: [v["number"] for v in vs] for s, vs in m["stages"].items()} for m in snapshot["models"]}


def test_before_anything_existed(history, jan):
    assert stage_snapshot(at=jan(1) - timedelta(seconds=1))["models"] == []


def test_stages_at_several_instants(history, jan):
    assert _stages(stage_snapshot(at=jan(1))) == {"credit-gbm": {"development": [1]}}
    assert _stages(stage_snapshot(at=jan(2, 18))) == {"churn": {"development": [1]}, "credit-gbm": {"qa": [1]}}
    assert _stages(stage_snapshot(at=jan(4, 12, 30))) == {
        "churn": {"development": [1]}, "credit-gbm": {"production": [1]},
    }
    assert _stages(stage_snapshot(at=jan(5, 23))) == {
        "churn": {"development": [1]}, "credit-gbm": {"production": [1], "preproduction": [2]},
    }
    assert _stages(stage_snapshot(at=jan(7))) == {
        "churn": {"development": [1]}, "credit-gbm": {"production": [2], "archived": [1]},
    }


def test_who_approved_under_which_policy_and_request(history, jan):
    models = {m["model"]: m["stages"] for m in stage_snapshot(at=jan(4, 18))["models"]}
    [prod] = models["credit-gbm"]["production"]
    assert prod["version_id"] == history["v1"].pk
    assert prod["approved_by"] == ["omar"]
    assert prod["policy_version"] == 2
    assert prod["moved_by"] == "omar"
    assert prod["request_id"] == "req-v1-prod"
    assert prod["evidence"] == {"promotion": 3, "approved_by": ["omar"], "policy_version": 2}
    assert prod["since"] == jan(4).isoformat()
    [dev] = models["credit-gbm"]["development"]
    assert (dev["number"], dev["approved_by"], dev["policy_version"], dev["reason"]) == (2, None, None, "registered")

    later = {m["model"]: m["stages"] for m in stage_snapshot(at=jan(6, 12))["models"]}
    [prod] = later["credit-gbm"]["production"]
    assert (prod["number"], prod["approved_by"], prod["policy_version"], prod["request_id"]) == (
        2, ["omar", "rita"], 3, "req-v2-prod",
    )
    [archived] = later["credit-gbm"]["archived"]
    assert archived["evidence"] == {"replaced_by": 2} and archived["approved_by"] is None


def test_renamed_and_deleted_models_follow_the_trail(history, cast, frozen, jan):
    model = history["c1"].model
    with frozen(jan(8)):
        services.model_update(actor=cast["dana"], model=model, name="churn-v2")
    with frozen(jan(9)):
        services.model_delete(actor=cast["dana"], model=model)
    assert "churn" in _stages(stage_snapshot(at=jan(7)))
    assert _stages(stage_snapshot(at=jan(8, 13)))["churn-v2"] == {"development": [1]}
    assert set(_stages(stage_snapshot(at=jan(10)))) == {"credit-gbm"}


def test_point_in_time_endpoint(api, history):
    response = api("audrey").get("/api/v1/audit/point-in-time/", {"at": "2026-01-04T18:00:00Z"})
    assert response.status_code == 200
    body = response.json()
    assert _stages(body) == {"churn": {"development": [1]}, "credit-gbm": {"development": [2], "production": [1]}}
    assert body["at"] == "2026-01-04T18:00:00+00:00"
    # An offset is honoured: 12:30 at +02:00 is 10:30 UTC, before v1 reached production at 12:00 UTC.
    assert _stages(api("audrey").get("/api/v1/audit/point-in-time/", {"at": "2026-01-04T12:30:00+02:00"}).json())[
        "credit-gbm"
    ] == {"preproduction": [1]}


@pytest.mark.parametrize("query", [{}, {"at": ""}, {"at": "last tuesday"}, {"at": "2026-13-01T00:00:00Z"}])
def test_point_in_time_bad_date_is_400(api, cast, query):
    response = api("audrey").get("/api/v1/audit/point-in-time/", query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["at"]
