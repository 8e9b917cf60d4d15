"""Issue 8, point 9: an invalid override stores nothing; metrics are finite numbers."""

import pytest

from audit.models import AuditEvent
from governance.models import Classification

from .conftest import answers


def test_invalid_override_stores_no_classification(api, inventory):
    url = f"/api/v1/use-cases/{inventory['use_case'].pk}/classification/"
    r = api("rita").put(url, {"answers": answers(availability="realtime"), "override_tier": 2}, format="json")
    assert r.status_code == 400 and "override_justification" in r.json()["errors"]
    assert not Classification.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="classification").exists()
    # Unknown answers and a bad override are reported together, still nothing stored.
    r = api("rita").put(url, {"answers": {"regulation": "moon"}, "override_tier": 3, "override_justification": " "}, format="json")
    assert {"answers.regulation", "override_justification"} <= set(r.json()["errors"])
    assert not Classification.objects.exists()
    r = api("rita").put(url, {"answers": answers(), "override_tier": 3, "override_justification": "Regulator asked"}, format="json")
    assert r.status_code == 200 and r.json()["tier"] == 3 and Classification.objects.count() == 1


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "0.8", True, None, {"nested": 1}])
def test_metrics_must_be_finite_numbers(api, inventory, value):
    r = api("dana").post("/api/v1/models/credit-gbm/versions/",
                         {"artifact_uri": "s3://v2", "sha256": "2" * 64, "metrics": {"auc": value}}, format="json")
    assert r.status_code == 400, r.json()
    assert "metrics" in r.json()["errors"] and "finite numbers" in r.json()["errors"]["metrics"][0]
    assert inventory["model"].versions.count() == 1


def test_a_json_nan_literal_is_refused(api, inventory):
    r = api("dana").generic("POST", "/api/v1/models/credit-gbm/versions/",
                            '{"artifact_uri": "s3://v2", "sha256": "' + "2" * 64 + '", "metrics": {"auc": NaN}}',
                            content_type="application/json")
    assert r.status_code == 400
    assert inventory["model"].versions.count() == 1
