"""Drift checks end to end (tasks run in this process, as a worker would run them)."""

import numpy as np
import pytest
from django.core import mail

from audit.models import AuditEvent
from monitoring import drift
from monitoring.models import Alert, CheckPart, DriftCheck, FeatureDrift, Monitor
from monitoring.services import check_request, checks_due

from .conftest import ALL, W1, W2, base_url, frame, run_check, to_csv

pytestmark = pytest.mark.django_db


def _request(api, version, user="dana", **window):
    r = api(user).post(base_url(version) + "checks/", window or ALL, format="json")
    assert r.status_code == 202, r.json()
    return r.json()


def test_shifted_batch_drifts_and_raises_an_alert(monitored, upload, api, cast, django_capture_on_commit_callbacks):
    upload("dana", monitored, "batches", "b1.csv", to_csv(frame(3000, seed=20, shift=0.6, cat_shift=True)), **W1)
    with django_capture_on_commit_callbacks(execute=True):
        check = run_check(_request(api, monitored)["id"])
    assert check.status == "done" and check.current_rows == 3000
    body = api("audrey").get(base_url(monitored) + f"checks/{check.pk}/").json()
    verdicts = {f["feature"]: (f["method"], f["drifted"]) for f in body["features"]}
    # 2,000 reference rows > 1,000: Wasserstein for numeric, Jensen–Shannon for categorical.
    assert verdicts == {"x0": ("wasserstein", True), "x1": ("wasserstein", True), "x2": ("wasserstein", False),
                        "x3": ("wasserstein", False), "colour": ("jensenshannon", True), "plan": ("jensenshannon", False)}
    assert body["drift_status"] == "drift" and body["share"] == pytest.approx(0.5) and body["dataset_drift"]
    x0 = next(f for f in body["features"] if f["feature"] == "x0")
    assert x0["reference_n"] == 2000 and x0["current_n"] == 3000 and x0["threshold"] == 0.1
    assert len(x0["histogram"]["reference"]) == 10 and sum(x0["histogram"]["current"]) == 3000
    monitor = Monitor.objects.get(version=monitored)
    assert monitor.drift_status == "drift" and monitor.retraining_recommended
    alert = Alert.objects.get(version=monitored)
    assert alert.kind == "drift" and alert.status == "open" and "x0" in alert.detail
    assert AuditEvent.objects.filter(action="monitoring.alert_raise").count() == 1
    # Nobody assigned to the RACI's monitoring task: the model's and the use case's owner (dana).
    assert [m.to for m in mail.outbox] == [["dana@example.com"]]
    # Tier 4 (unclassified) policy: an early periodic review is opened.
    from governance.models import Review

    assert Review.objects.filter(version=monitored, status="open").exists()


def test_same_distribution_stays_ok_and_raises_nothing(monitored, upload, api):
    upload("dana", monitored, "batches", "b1.csv", to_csv(frame(3000, seed=21)), **W1)
    check = run_check(_request(api, monitored)["id"])
    assert check.drift_status == "ok" and check.drifted_features == 0
    assert not Alert.objects.exists()


def test_batches_merge_and_window_selects_them(monitored, upload, api):
    """Two windows summarised apart and merged give the same statistics as the rows together."""
    a, b = frame(1500, seed=22, shift=0.3), frame(1500, seed=23, shift=0.3)
    upload("dana", monitored, "batches", "a.csv", to_csv(a), **W1)
    upload("dana", monitored, "batches", "b.csv", to_csv(b), **W2)
    both = run_check(_request(api, monitored)["id"])
    only_first = run_check(_request(api, monitored, **W1)["id"])
    assert both.current_rows == 3000 and only_first.current_rows == 1500
    ref = frame(2000, seed=1)["x0"]
    cur = np.concatenate([a["x0"], b["x0"]])
    from scipy import stats

    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    got = FeatureDrift.objects.get(check_run=both, feature="x0").statistic
    # Exact but for the few gaps between neighbouring reference values where the two CDFs cross
    # (values there taken as evenly spread); with 2,000 reference rows that is within 0.1 %.
    assert got == pytest.approx(expected, rel=1e-3)


def test_split_into_parts_gives_the_same_result_as_one_part(monitored, upload, api, cast):
    from monitoring.services import monitor_configure

    upload("dana", monitored, "batches", "b.csv", to_csv(frame(2500, seed=24, shift=0.2, cat_shift=True)), **W1)
    monitor_configure(actor=cast["rita"], version=monitored, chunk_size=1)
    split = run_check(_request(api, monitored)["id"])
    monitor_configure(actor=cast["rita"], version=monitored, chunk_size=100)
    whole = run_check(_request(api, monitored)["id"])
    assert CheckPart.objects.filter(check_run=split).count() == 6 and CheckPart.objects.filter(check_run=whole).count() == 1
    fields = ["feature", "method", "statistic", "p_value", "threshold", "drifted", "current_n", "psi"]
    rows = lambda c: list(FeatureDrift.objects.filter(check_run=c).order_by("feature").values_list(*fields))  # noqa: E731
    assert rows(split) == rows(whole)
    assert (split.drift_status, split.share) == (whole.drift_status, whole.share)


def test_part_delivered_twice_works_once(monitored, upload, api):
    from monitoring.tasks import check_part_task

    upload("dana", monitored, "batches", "b.csv", to_csv(frame(500, seed=25)), **W1)
    check = run_check(_request(api, monitored)["id"])
    part = CheckPart.objects.get(check_run=check)
    assert check_part_task(part.job_id) == "skipped: job already claimed or finished"
    assert FeatureDrift.objects.filter(check_run=check).count() == 6
    assert AuditEvent.objects.filter(action="monitoring.check_complete").count() == 1


def test_small_reference_uses_ks_and_chi_square_and_bh_is_shown_next_to_raw(inventory, upload, api, cast):
    version = inventory["version"]
    upload("dana", version, "reference", "r.csv", to_csv(frame(400, seed=26)))
    upload("dana", version, "batches", "b.csv", to_csv(frame(400, seed=27, shift=0.25)), **W1)
    raw = run_check(_request(api, version)["id"])
    methods = dict(FeatureDrift.objects.filter(check_run=raw).values_list("feature", "method"))
    assert methods == {"x0": "ks", "x1": "ks", "x2": "ks", "x3": "ks", "colour": "chisquare", "plan": "z"}
    r = api("dana").patch(base_url(version), {"fdr_control": True}, format="json")
    assert r.status_code == 403  # the governed do not choose how they are judged
    assert api("rita").patch(base_url(version), {"fdr_control": True}, format="json").status_code == 200
    adjusted = run_check(_request(api, version)["id"])
    rows = list(FeatureDrift.objects.filter(check_run=adjusted).order_by("feature"))
    from statsmodels.stats.multitest import multipletests

    p = [f.p_value for f in rows]
    reject, p_adj, _, _ = multipletests(p, alpha=0.05, method="fdr_bh")
    assert [f.p_adjusted for f in rows] == pytest.approx(list(p_adj))
    assert [f.drifted_adjusted for f in rows] == list(reject)
    assert [f.drifted for f in rows] == [x < 0.05 for x in p]  # raw verdicts kept next to them


def test_scheduled_check_queued_once_for_deployed_versions(monitored, cast, api):
    from django.utils import timezone

    from registry.models import ModelVersion

    assert api("dana").patch(base_url(monitored), {"schedule_minutes": 60}, format="json").status_code == 200
    later = timezone.now() + timezone.timedelta(hours=2)
    assert checks_due(now=later) == []  # not deployed
    ModelVersion.objects.filter(pk=monitored.pk).update(stage="production")
    queued = checks_due(now=later)
    assert len(queued) == 1 and queued[0].trigger == "schedule"
    assert checks_due(now=later) == []  # moved forward: a second beat does not queue it again
    # In production the model's owner may no longer switch the schedule off.
    r = api("dana").patch(base_url(monitored), {"schedule_minutes": None}, format="json")
    assert r.status_code == 403
    assert api("rita").patch(base_url(monitored), {"schedule_minutes": None}, format="json").status_code == 200


def test_alert_acknowledged_then_closed_by_an_independent_risk_officer(monitored, upload, api, cast):
    upload("dana", monitored, "batches", "b1.csv", to_csv(frame(3000, seed=28, shift=0.8)), **W1)
    run_check(_request(api, monitored)["id"])
    alert = Alert.objects.get(version=monitored)
    url = base_url(monitored) + f"alerts/{alert.pk}/"
    assert api("rita").post(url + "close/", {"comment": "x"}, format="json").status_code == 409  # not acknowledged
    assert api("sam").post(url + "acknowledge/", {}, format="json").status_code == 403
    assert api("dana").post(url + "acknowledge/", {}, format="json").status_code == 200
    assert api("dana").post(url + "close/", {"comment": "retrained"}, format="json").status_code == 403
    r = api("rita").post(url + "close/", {"comment": ""}, format="json")
    assert r.status_code == 400 and "comment" in r.json()["errors"]
    r = api("rita").post(url + "close/", {"comment": "v2 retrained on recent data"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closed_by"] == "rita"
    assert not Monitor.objects.get(version=monitored).retraining_recommended
    assert api("audrey").get("/api/v1/monitoring/alerts/").json()["count"] == 0


def test_tier_policy_decides_when_to_alert(monitored, upload, api, cast):
    """Tier 1 (policy default): a single drifted feature is only a warning, no alert; a policy
    section `monitoring` saying alert_on=warning for tier 1 makes it one."""
    from governance.classification import classification_submit
    from governance.policy import policy_update
    from governance.selectors import policy_current

    low = {"regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
           "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none"}
    classification_submit(actor=cast["omar"], use_case=monitored.model.use_case, answers=low)
    data = frame(3000, seed=29)
    data["x0"] = data["x0"] + 0.8
    upload("dana", monitored, "batches", "b.csv", to_csv(data), **W1)
    check = run_check(_request(api, monitored)["id"])
    assert check.drift_status == "warning" and not Alert.objects.exists()
    policy = policy_current().data
    policy["monitoring"] = {"1": {"alert_on": "warning"}}
    policy_update(actor=cast["rita"], data=policy, comment="watch tier 1 closely")
    run_check(_request(api, monitored)["id"])
    assert Alert.objects.filter(version=monitored, kind="drift").count() == 1


def test_realized_performance_and_degradation_alert(inventory, upload, api, cast):
    """Labels drawn from a model much worse than its recorded validation AUC (0.8)."""
    version = inventory["version"]
    upload("dana", version, "reference", "r.csv", to_csv(frame(2000, seed=30)))
    data = frame(4000, seed=31, scores=True)
    upload("dana", version, "batches", "b.csv", to_csv(data), **W1)
    rng = np.random.default_rng(32)
    labels = (rng.random(4000) < 0.4).astype(int)  # unrelated to the scores: AUC ≈ 0.5
    body = "row_id,label\n" + "".join(f"r{i},{y}\n" for i, y in enumerate(labels))
    assert upload("dana", version, "labels", "l.csv", body.encode()).status_code == 200
    check = run_check(_request(api, version)["id"])
    perf = check.performance
    assert perf["task"] == "binary_classification" and perf["labelled"] == 4000 and perf["shown"] == "realized"
    from monitoring.performance import classification_metrics

    expected = classification_metrics(labels, scores=data["score"])
    assert perf["realized"]["roc_auc"] == pytest.approx(expected["roc_auc"])
    assert perf["baseline"] == {"roc_auc": 0.8}
    assert perf["estimated"]["accuracy"] == pytest.approx(
        np.mean(np.where(data["score"] >= 0.5, data["score"], 1 - data["score"])))
    assert Alert.objects.filter(version=version, kind="degradation").exists()


def test_check_needs_a_reference_and_respects_roles(inventory, api):
    r = api("dana").post(base_url(inventory["version"]) + "checks/", {}, format="json")
    assert r.status_code == 409
    assert api("audrey").post(base_url(inventory["version"]) + "checks/", {}, format="json").status_code == 403


def test_check_with_no_rows_in_window_is_unknown(monitored, api):
    check = run_check(_request(api, monitored)["id"])
    assert check.status == DriftCheck.Status.DONE and check.drift_status == "unknown"
    assert not Alert.objects.exists()


def test_request_via_service_records_audit(monitored, cast):
    check = check_request(actor=cast["rita"], version=monitored)
    assert AuditEvent.objects.filter(action="monitoring.check_request", object_id=str(check.pk)).exists()
    assert drift.DEFAULT_DRIFT_SHARE == check.config["drift_share"]


def test_alert_sends_the_signed_webhook_and_mails_the_raci_people(monitored, upload, api, cast, settings, monkeypatch,
                                                                django_capture_on_commit_callbacks):
    from governance.raci import raci_update
    from governance.tasks import webhook_send

    settings.STEWARD_WEBHOOK_URL = "http://hooks.example/steward"
    sent = []
    monkeypatch.setattr(webhook_send, "delay", lambda payload: sent.append(payload))
    # The RACI names omar (data ops: Responsible for monitoring) and rita (production: Accountable).
    raci_update(actor=cast["rita"], use_case=monitored.model.use_case,
                assignments={"data_ops": ["omar"], "production": ["rita"]})
    upload("dana", monitored, "batches", "b.csv", to_csv(frame(3000, seed=33, shift=0.8, cat_shift=True)), **W1)
    with django_capture_on_commit_callbacks(execute=True):
        run_check(_request(api, monitored)["id"])
    assert [p["event"] for p in sent] == ["monitoring.drift"] and sent[0]["model"] == monitored.model.name
    assert sorted(mail.outbox[0].to) == ["omar@example.com", "rita@example.com"]
