"""The governance gate `drift_monitoring` and the reads other pages use."""

import pytest

from governance.gates import evaluate_gate
from monitoring import selectors
from monitoring.services import monitor_configure

from .conftest import ALL, W1, base_url, frame, run_check, to_csv

pytestmark = pytest.mark.django_db


def test_gate_needs_reference_and_schedule(inventory, cast, upload):
    version = inventory["version"]
    result = evaluate_gate("drift_monitoring", version=version)
    assert not result.met and "reference profile" in result.detail and "schedule" in result.detail
    upload("dana", version, "reference", "r.csv", to_csv(frame(300, seed=40)))
    assert not evaluate_gate("drift_monitoring", version=version).met
    monitor_configure(actor=cast["dana"], version=version, schedule_minutes=1440)
    result = evaluate_gate("drift_monitoring", version=version)
    assert result.met and "300 rows" in result.detail


def test_default_policy_tier4_production_checklist_can_be_met_for_monitoring(inventory, cast, upload):
    """The default policy names the gate for tiers 3 and 4; it is checkable now."""
    from governance.checklist import promotion_checklist
    from governance.classification import classification_submit
    from governance.promotions import promotion_request
    from registry.models import ModelVersion

    version = inventory["version"]
    upload("dana", version, "reference", "r.csv", to_csv(frame(300, seed=41)))
    monitor_configure(actor=cast["dana"], version=version, schedule_minutes=60)
    answers = {"regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "realtime",
               "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none"}
    classification_submit(actor=cast["omar"], use_case=version.model.use_case, answers=answers)  # 24/7: tier 4
    ModelVersion.objects.filter(pk=version.pk).update(stage="preproduction")
    version.refresh_from_db()
    promotion = promotion_request(actor=cast["dana"], version=version, target_stage="production")
    assert promotion.tier == 4
    items = {i["key"]: i for i in promotion_checklist(promotion=promotion)}
    assert items["drift_monitoring"]["met"], items["drift_monitoring"]


def test_open_alerts_selector_and_inventory_hook(monitored, upload, api):
    upload("dana", monitored, "batches", "b.csv", to_csv(frame(3000, seed=42, shift=1.0, cat_shift=True)), **W1)
    run_check(api("dana").post(base_url(monitored) + "checks/", ALL, format="json").json()["id"])
    alerts = list(selectors.open_alerts())
    assert [a.version_id for a in alerts] == [monitored.pk]
    from registry.models import ModelVersion

    assert list(ModelVersion.objects.filter(pk__in=selectors.versions_with_alerts())) == [monitored]
    assert selectors.drift_statuses([monitored]) == {monitored.pk: ("drift", True)}


def test_reading_writes_nothing(inventory, api):
    from monitoring.models import Monitor

    r = api("audrey").get(base_url(inventory["version"]))
    assert r.status_code == 200 and r.json()["drift_status"] == "unknown" and not r.json()["has_reference"]
    assert not Monitor.objects.exists()


def test_list_endpoints_query_counts(monitored, upload, api, django_assert_num_queries):
    for seed in (43, 44):
        upload("dana", monitored, "batches", f"b{seed}.csv", to_csv(frame(300, seed=seed, shift=1.0)), **W1)
        run_check(api("dana").post(base_url(monitored) + "checks/", ALL, format="json").json()["id"])
    client = api("audrey")
    client.get(base_url(monitored) + "checks/")  # token lookup warmed
    # token with its user and roles (one query), version, count, page of checks, their parts
    with django_assert_num_queries(5):
        assert client.get(base_url(monitored) + "checks/").json()["count"] == 2
    # token with user and roles, version, count, page of alerts with users
    with django_assert_num_queries(4):
        assert client.get(base_url(monitored) + "alerts/").json()["count"] == 1


def test_a_new_version_inherits_the_models_monitoring_settings(inventory, cast):
    from monitoring.services import monitor_for
    from registry import services as registry

    first = inventory["version"]
    monitor_configure(actor=cast["rita"], version=first, fdr_control=True, thresholds={"wasserstein": 0.2})
    monitor_configure(actor=cast["dana"], version=first, schedule_minutes=120)
    second = registry.model_version_register(actor=cast["dana"], model=inventory["model"], artifact_uri="s3://m/2", sha256="2" * 64)
    monitor = monitor_for(version=second)
    assert (monitor.fdr_control, monitor.thresholds, monitor.schedule_minutes) == (True, {"wasserstein": 0.2}, 120)
    assert monitor.next_run_at is not None
