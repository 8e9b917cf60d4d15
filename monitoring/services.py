"""Monitoring services: monitors and their settings, drift and performance checks, alerts.

Each state change is one keyword-only function: permission check (`access`), one transaction,
one audit event. Uploads (reference profiles, production batches, labels) are `ingest`.

A little over 400 lines on purpose: a check is requested, split into parts, run part by part and
finalised here, and those steps share the part bookkeeping; split apart they would import each
other.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record, diff
from core.errors import Conflict, Forbidden, InvalidInput
from core.services import job_create, job_enqueue
from registry.models import ModelVersion, Stage

from . import access, drift, performance
from .alerts import alerts_raise
from .blobs import unpack as _load
from .models import (
    Alert,
    Batch,
    CheckPart,
    DriftCheck,
    DriftStatus,
    FeatureDrift,
    Monitor,
    Prediction,
    ReferenceProfile,
)

logger = logging.getLogger(__name__)



# --- selectors ------------------------------------------------------------------------------


def monitor_for(*, version: ModelVersion) -> Monitor:
    """The version's monitor, created when a write first needs it: with the settings of the
    model's newest other monitored version (tests, thresholds, schedule are the model's), else
    the defaults."""
    monitor = Monitor.objects.filter(version=version).first()
    if monitor:
        return monitor
    previous = (Monitor.objects.filter(version__model_id=version.model_id).exclude(version=version)
                .order_by("-version__number").first())
    inherited = {k: getattr(previous, k) for k in (*TEST_FIELDS, *OWNER_FIELDS)} if previous else {}
    if inherited.get("schedule_minutes"):
        inherited["next_run_at"] = timezone.now() + timedelta(minutes=inherited["schedule_minutes"])
    monitor, _ = Monitor.objects.get_or_create(version=version, defaults=inherited)
    return monitor


def monitor_of(version: ModelVersion) -> Monitor:
    """For reading: the stored monitor, or an unsaved one with the defaults (a GET writes nothing)."""
    return Monitor.objects.filter(version=version).select_related("version__model").first() or Monitor(version=version)


def profile_for(version: ModelVersion) -> ReferenceProfile | None:
    return ReferenceProfile.objects.filter(version=version).first()


def numeric_reference(profile: ReferenceProfile, index: int, archive=None) -> drift.NumericReference:
    f = profile.features[index]
    archive = archive if archive is not None else _load(profile.grid)
    small = f.get("small")
    return drift.NumericReference(
        values=archive[f"v{index}"], counts=archive[f"c{index}"], n=f["n"], std=f["std"], mean=f["mean"],
        sampled=f["sampled"], small_counts=None if small is None else {v: c for v, c in small},
    )


# --- configuration --------------------------------------------------------------------------


TEST_FIELDS = ("stattest", "thresholds", "drift_share", "fdr_control", "fdr_alpha", "chunk_size")
OWNER_FIELDS = ("task", "score_threshold", "schedule_minutes", "window_hours")


@transaction.atomic
def monitor_configure(*, actor, version: ModelVersion, **fields) -> Monitor:
    unknown = set(fields) - set(TEST_FIELDS) - set(OWNER_FIELDS)
    if unknown:
        raise InvalidInput("Unknown settings.", fields={k: ["Unknown setting."] for k in unknown})
    monitor = Monitor.objects.select_for_update().get(pk=monitor_for(version=version).pk)
    if any(k in fields for k in TEST_FIELDS) and not access.can_configure_tests(actor):
        raise Forbidden("Only risk officers set how drift is judged (tests, thresholds, drift share, FDR control).")
    if "schedule_minutes" in fields:
        removing = fields["schedule_minutes"] is None
        if not access.can_set_schedule(actor, version, removing=removing):
            raise Forbidden("Only risk officers switch off the schedule of a version in production.")
    elif any(k in fields for k in OWNER_FIELDS) and not access.can_set_schedule(actor, version, removing=False):
        raise Forbidden("Only the model's data scientists and risk officers change its monitoring.")
    errors = {}
    if "stattest" in fields and fields["stattest"] not in ("auto", *drift.METHODS):
        errors["stattest"] = [f"Use auto or one of {', '.join(drift.METHODS)}."]
    if "thresholds" in fields:
        t = fields["thresholds"]
        if not isinstance(t, dict) or any(k not in drift.METHODS or isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0
                                          for k, v in t.items()):
            errors["thresholds"] = [f"An object method → positive number; methods: {', '.join(drift.METHODS)}."]
    for key, low, high in (("drift_share", 0.0, 1.0), ("fdr_alpha", 0.0, 1.0), ("score_threshold", 0.0, 1.0)):
        if key in fields and not (low < float(fields[key]) <= high):
            errors[key] = [f"Between {low} (excluded) and {high}."]
    if "chunk_size" in fields and not (1 <= int(fields["chunk_size"]) <= 1000):
        errors["chunk_size"] = ["Between 1 and 1000."]
    if fields.get("schedule_minutes") is not None and int(fields["schedule_minutes"]) < 1:
        errors["schedule_minutes"] = ["At least 1 minute."]
    if "window_hours" in fields and int(fields["window_hours"]) < 1:
        errors["window_hours"] = ["At least 1 hour."]
    if "task" in fields and fields["task"] not in Monitor.Task.values:
        errors["task"] = [f"One of {', '.join(repr(v) for v in Monitor.Task.values)}."]
    if errors:
        raise InvalidInput("Invalid monitoring settings.", fields=errors)
    before = {k: getattr(monitor, k) for k in fields}
    for key, value in fields.items():
        setattr(monitor, key, value)
    update = list(fields)
    if "schedule_minutes" in fields:
        monitor.next_run_at = (timezone.now() + timedelta(minutes=monitor.schedule_minutes)
                               if monitor.schedule_minutes else None)
        update.append("next_run_at")
    monitor.save(update_fields=[*update, "updated_at"])
    changes = diff(before, {k: getattr(monitor, k) for k in fields})
    if changes:
        audit_record(action="monitoring.configure", actor=actor, obj=version, changes=changes)
    return monitor


# --- checks ---------------------------------------------------------------------------------


def _window_batches(check: DriftCheck, profile: ReferenceProfile):
    return Batch.objects.filter(version_id=check.version_id, meta__profile=profile.pk,
                                window_start__gte=check.window_start, window_end__lte=check.window_end)


#: Sent by name: the tasks module imports this one, not the other way round.
CHECK_PART_TASK = "monitoring.tasks.check_part_task"


@transaction.atomic
def check_request(*, actor, version: ModelVersion, window_start=None, window_end=None,
                  trigger: str = DriftCheck.Trigger.MANUAL) -> DriftCheck:
    """Queue a check of the batches inside the window, as one worker task per chunk of features."""
    if actor is not None and not access.can_feed(actor, version):
        raise Forbidden("Only the model's data scientists and risk officers ask for checks.")
    profile = profile_for(version)
    if profile is None:
        raise Conflict("This version has no reference profile yet.")
    monitor = monitor_for(version=version)
    window_end = window_end or timezone.now()
    window_start = window_start or window_end - timedelta(hours=monitor.window_hours)
    if window_end <= window_start:
        raise InvalidInput("Empty window.", fields={"window_end": ["Must be after window_start."]})
    check = DriftCheck.objects.create(
        version=version, window_start=window_start, window_end=window_end, trigger=trigger, requested_by=actor,
        config={"stattest": monitor.stattest, "thresholds": monitor.thresholds, "drift_share": monitor.drift_share,
                "fdr_control": monitor.fdr_control, "fdr_alpha": monitor.fdr_alpha, "profile": profile.pk,
                "task": monitor.task, "score_threshold": monitor.score_threshold},
    )
    names = [f["name"] for f in profile.features]
    size = monitor.chunk_size
    for index, start in enumerate(range(0, len(names), size)):
        part = CheckPart.objects.create(check_run=check, index=index, features=names[start:start + size])
        job = job_create(kind="drift_check_part", actor=actor, obj=part, message="Queued")
        CheckPart.objects.filter(pk=part.pk).update(job=job)
        job_enqueue(job=job, task=CHECK_PART_TASK)
    audit_record(action="monitoring.check_request", actor=actor, obj=check, changes={
        "version": {"before": None, "after": str(version)}, "window": {"before": None, "after": [window_start, window_end]},
        "trigger": {"before": None, "after": trigger}})
    return check


def part_results(*, profile: ReferenceProfile, batches, names: list[str], config: dict) -> list[dict]:
    """Raw per-feature results for `names`, merging the batches' summaries one batch at a time."""
    index = {f["name"]: i for i, f in enumerate(profile.features)}
    archive = _load(profile.grid)
    merged_num: dict[int, drift.NumericSummary] = {}
    merged_cat: dict[int, dict] = {}
    for blob, meta in batches.values_list("summary", "meta").iterator(chunk_size=1):
        batch_archive = _load(blob)
        for name in names:
            i = index[name]
            fmeta = meta["features"][name]
            if profile.features[i]["kind"] == drift.NUMERIC:
                small = fmeta.get("small")
                s = drift.NumericSummary(batch_archive[f"eq{i}"], batch_archive[f"gap{i}"], batch_archive[f"sum{i}"],
                                         None if small is None else {v: c for v, c in small}, fmeta["missing"])
                merged_num[i] = merged_num[i].merge(s) if i in merged_num else s
            else:
                merged_cat[i] = drift.merge_counts(merged_cat.get(i, {}), fmeta["counts"])
    results = []
    for name in names:
        i = index[name]
        feature = profile.features[i]
        if feature["kind"] == drift.NUMERIC:
            ref = numeric_reference(profile, i, archive)
            cur = merged_num.get(i) or drift.NumericSummary.empty(ref.values.size)
            r = drift.numeric_drift(name, ref, cur, method=config["stattest"], thresholds=config["thresholds"])
        else:
            r = drift.categorical_drift(name, feature["counts"], merged_cat.get(i, {}), method=config["stattest"],
                                        thresholds=config["thresholds"])
        results.append(r.as_dict())
    return results


def check_part_run(*, part_id: int, worker: str = "") -> CheckPart:
    """Compute one part (idempotent: a part already done is left alone), then finalise the check
    if it was the last."""
    part = CheckPart.objects.select_related("check_run__version").get(pk=part_id)
    check = part.check_run
    if not part.done and check.status == DriftCheck.Status.RUNNING:
        profile = ReferenceProfile.objects.filter(pk=check.config["profile"]).first()
        if profile is None:
            raise Conflict("The reference profile was replaced while the check ran.")
        results = part_results(profile=profile, batches=_window_batches(check, profile), names=part.features,
                               config=check.config)
        CheckPart.objects.filter(pk=part.pk, done=False).update(done=True, results=_jsonable(results), worker=worker[:200])
    check_finalize(check_id=check.pk)
    part.refresh_from_db()
    return part


def check_fail(*, part_id: int, error: str) -> None:
    """A part could not be computed (the worker gave up): its check, if still running, fails."""
    part = CheckPart.objects.filter(pk=part_id).only("check_run_id").first()
    if part:
        DriftCheck.objects.filter(pk=part.check_run_id, status=DriftCheck.Status.RUNNING).update(
            status=DriftCheck.Status.FAILED, error=error[:2000])


def _jsonable(value):
    """NaN and infinity are not JSON: stored as None."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@transaction.atomic
def check_finalize(*, check_id: int) -> DriftCheck:
    """Assemble the verdict once every part is done (the check row is locked: exactly one part's
    task does it, however many finish at once)."""
    check = DriftCheck.objects.select_for_update().select_related("version__model__use_case").get(pk=check_id)
    if check.status != DriftCheck.Status.RUNNING or check.parts.filter(done=False).exists():
        return check
    config = check.config
    results = [drift.FeatureResult(**r) for part in check.parts.order_by("index") for r in part.results]
    results = [r if r.statistic is not None else _nan(r) for r in results]
    if config.get("fdr_control"):
        results = drift.apply_bh(results, config.get("fdr_alpha", 0.05))
        verdicts = [bool(r.drifted_adjusted) for r in results]
    else:
        verdicts = [r.drifted for r in results]
    dataset = drift.dataset_drift(verdicts, config.get("drift_share", drift.DEFAULT_DRIFT_SHARE))
    FeatureDrift.objects.bulk_create([
        FeatureDrift(check_run=check, feature=r.feature, kind=r.kind, method=r.method,
                     statistic=_finite(r.statistic), p_value=_finite(r.p_value), p_adjusted=_finite(r.p_adjusted),
                     threshold=r.threshold, drifted=r.drifted, drifted_adjusted=r.drifted_adjusted,
                     reference_n=r.reference_n, current_n=r.current_n, psi=_finite(r.psi), psi_band=r.psi_band or "",
                     histogram={"bins": r.bins, "reference": r.reference_hist, "current": r.current_hist})
        for r in results
    ])
    profile = ReferenceProfile.objects.filter(pk=config["profile"]).first()
    batches = _window_batches(check, profile) if profile else Batch.objects.none()
    check.batches = batches.count()
    check.current_rows = sum(batches.values_list("rows", flat=True))
    check.performance = _jsonable(window_performance(check=check, batches=batches))
    check.drifted_features, check.total_features = dataset.drifted_features, dataset.total_features
    check.share, check.dataset_drift = dataset.share, dataset.dataset_drift
    check.drift_status = dataset.status if check.current_rows else DriftStatus.UNKNOWN
    check.status = DriftCheck.Status.DONE
    check.finished_at = timezone.now()
    check.save()
    monitor = Monitor.objects.select_for_update().get(version=check.version)
    last = monitor.last_check
    if last is None or (last.window_end, last.pk) <= (check.window_end, check.pk):
        monitor.last_check, monitor.drift_status = check, check.drift_status
        monitor.save(update_fields=["last_check", "drift_status", "updated_at"])
    audit_record(action="monitoring.check_complete", obj=check, changes={
        "drift_status": {"before": None, "after": check.drift_status},
        "drifted_features": {"before": None, "after": [r.feature for r, v in zip(results, verdicts, strict=True) if v]},
        "share": {"before": None, "after": dataset.share}})
    alerts_raise(check=check, results=results, verdicts=verdicts)
    return check


def _nan(r):
    return replace(r, statistic=float("nan"))


def _finite(x):
    return None if x is None or not np.isfinite(x) else float(x)


BASELINE_ALIASES = {
    "accuracy": ("accuracy", "acc"), "precision": ("precision",), "recall": ("recall",), "f1": ("f1", "f1_score"),
    "roc_auc": ("roc_auc", "auc", "rocauc"), "log_loss": ("log_loss", "logloss"),
    "mae": ("mae",), "rmse": ("rmse",), "r2": ("r2", "r_squared"),
}


def validation_baseline(version: ModelVersion, metric: str):
    for key in BASELINE_ALIASES.get(metric, (metric,)):
        value = version.metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def window_performance(*, check: DriftCheck, batches) -> dict:
    """Realized metrics from labelled rows of the window; CBPE estimate from the scores."""
    version = check.version
    config = check.config
    rows = list(Prediction.objects.filter(version=version, batch__in=batches).values_list("prediction", "score", "label"))
    labelled = [r for r in rows if r[2] is not None]
    task = config.get("task") or ""
    if not task and labelled:
        binary = all(r[2] in (0.0, 1.0) for r in labelled) and all(
            (r[1] is not None) or (r[0] in (0.0, 1.0)) for r in labelled)
        task = Monitor.Task.BINARY if binary else Monitor.Task.REGRESSION
    out = {"task": task, "rows": len(rows), "labelled": len(labelled), "realized": None, "estimated": None, "baseline": {}}
    threshold = config.get("score_threshold", 0.5)
    sums = None
    for meta in batches.values_list("meta", flat=True):
        if meta.get("cbpe"):
            sums = {k: (sums or {}).get(k, 0.0) + v for k, v in meta["cbpe"].items()}
    if sums and task in ("", Monitor.Task.BINARY):
        out["estimated"] = performance.confusion_metrics(sums["tp"], sums["fp"], sums["fn"], sums["tn"])
    if labelled:
        y = np.array([r[2] for r in labelled])
        if task == Monitor.Task.BINARY:
            scores = [r[1] for r in labelled]
            has_scores = all(s is not None for s in scores)
            preds = None if has_scores and any(r[0] is None for r in labelled) else [r[0] for r in labelled]
            if preds is not None and any(p is None for p in preds):
                preds = None
            out["realized"] = performance.classification_metrics(
                y, y_pred=preds, scores=np.array(scores) if has_scores else None, threshold=threshold)
        else:
            pairs = [(r[2], r[0]) for r in labelled if r[0] is not None]
            if pairs:
                out["realized"] = performance.regression_metrics([p[0] for p in pairs], [p[1] for p in pairs])
    metrics = performance.CLASSIFICATION_METRICS if task != Monitor.Task.REGRESSION else performance.REGRESSION_METRICS
    for metric in metrics:
        baseline = validation_baseline(version, metric)
        if baseline is not None:
            out["baseline"][metric] = baseline
    out["shown"] = "realized" if out["realized"] else ("estimated" if out["estimated"] else None)
    return out


def checks_due(*, now=None) -> list[DriftCheck]:
    """Beat: queue a check for every deployed version whose schedule fell due. A monitor's
    `next_run_at` is moved forward with a conditional UPDATE, so two beats queue one check."""
    now = now or timezone.now()
    due = Monitor.objects.filter(schedule_minutes__isnull=False, next_run_at__lte=now,
                                 version__stage=Stage.PRODUCTION).select_related("version")
    queued = []
    for monitor in due:
        nxt = now + timedelta(minutes=monitor.schedule_minutes)
        if not Monitor.objects.filter(pk=monitor.pk, next_run_at=monitor.next_run_at).update(next_run_at=nxt):
            continue
        if profile_for(monitor.version) is None:
            continue
        queued.append(check_request(actor=None, version=monitor.version, window_end=now,
                                    trigger=DriftCheck.Trigger.SCHEDULE))
    return queued


# --- alerts ---------------------------------------------------------------------------------


@transaction.atomic
def alert_acknowledge(*, actor, alert: Alert) -> Alert:
    alert = Alert.objects.select_for_update().select_related("version__model__use_case").get(pk=alert.pk)
    if not access.can_acknowledge(actor, alert.version):
        raise Forbidden("Only the model's data scientists and risk officers acknowledge its alerts.")
    if alert.status != Alert.Status.OPEN:
        raise Conflict(f"This alert is already {alert.status}.")
    alert.status, alert.acknowledged_by, alert.acknowledged_at = Alert.Status.ACKNOWLEDGED, actor, timezone.now()
    alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    audit_record(action="monitoring.alert_acknowledge", actor=actor, obj=alert,
                 changes={"status": {"before": "open", "after": "acknowledged"}})
    return alert


@transaction.atomic
def alert_close(*, actor, alert: Alert, comment: str) -> Alert:
    """Close an acknowledged alert with what was done about it. Risk officers close; not the
    people who own the model (the governed do not clear their own findings)."""
    alert = Alert.objects.select_for_update().select_related("version__model__use_case").get(pk=alert.pk)
    if not access.can_close(actor, alert.version):
        raise Forbidden("Only a risk officer who does not own the model closes its alerts.")
    if alert.status == Alert.Status.CLOSED:
        raise Conflict("This alert is already closed.")
    if alert.status == Alert.Status.OPEN:
        raise Conflict("Acknowledge the alert before closing it.")
    if not (comment or "").strip():
        raise InvalidInput("Say what was done about the alert.", fields={"comment": ["Required."]})
    alert.status, alert.closed_by, alert.closed_at, alert.close_comment = Alert.Status.CLOSED, actor, timezone.now(), comment
    alert.save(update_fields=["status", "closed_by", "closed_at", "close_comment"])
    audit_record(action="monitoring.alert_close", actor=actor, obj=alert,
                 changes={"status": {"before": "acknowledged", "after": "closed"}, "comment": {"before": None, "after": comment}})
    if not Alert.objects.filter(version=alert.version).exclude(status=Alert.Status.CLOSED).exists():
        Monitor.objects.filter(version=alert.version).update(retraining_recommended=False)
    return alert


def active_alerts_q() -> Q:
    return ~Q(status=Alert.Status.CLOSED)

