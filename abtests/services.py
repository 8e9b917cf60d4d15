"""Experiment services: one keyword-only function per state change, atomic and audited."""

import csv
import hashlib
import io
import json
import math
import secrets
import tempfile
from datetime import UTC

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import audit_record, diff, snapshot
from core.errors import Conflict, Forbidden, InvalidInput, ServiceError
from core.roles import Role, has_role, is_admin
from core.services import job_create, job_enqueue
from governance.access import can_accept_model
from registry.access import model_can_write

from . import stats
from .assignment import assign_arm
from .horizon import horizon
from .models import Analysis, Arm, Decision, Event, EventBatch, Experiment

DESIGN_FIELDS = [
    "name", "description", "kind", "metric_name", "metric_type", "direction", "secondary_metrics", "population",
    "splitting", "salt", "test", "alpha", "power", "mde", "alternative", "baseline", "sd", "daily_units",
    "sequential", "looks", "n_per_arm", "total_n", "days",
]
AB_TESTS = {
    Experiment.Test.TWO_PROPORTION_Z: Experiment.MetricType.BINARY,
    Experiment.Test.WELCH_T: Experiment.MetricType.CONTINUOUS,
    Experiment.Test.MANN_WHITNEY_U: Experiment.MetricType.CONTINUOUS,
}
SHADOW_TESTS = {
    Experiment.Test.MCNEMAR: Experiment.MetricType.BINARY,
    Experiment.Test.PAIRED_T: Experiment.MetricType.CONTINUOUS,
    Experiment.Test.WILCOXON: Experiment.MetricType.CONTINUOUS,
}
INGEST_CHUNK = 5000
MAX_REPORTED_ROW_ERRORS = 50


# --- access --------------------------------------------------------------------------------


def can_run(user, experiment_or_model) -> bool:
    """Who designs, starts, feeds and analyses an experiment: those who may write its model."""
    model = getattr(experiment_or_model, "model", experiment_or_model)
    return model_can_write(user, model)


def can_decide(user, experiment: Experiment | None = None) -> bool:
    """The RACI's Accountable people for model acceptance sign decisions; when the RACI names
    nobody (no one assigned yet), risk officers and administrators do (governance's rule)."""
    if experiment is None:
        return has_role(user, Role.RISK_OFFICER) or is_admin(user)
    return can_accept_model(user, experiment.model.use_case)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise Forbidden(message)


# --- planning ------------------------------------------------------------------------------


def _finite(value, name, errors, *, required=True, low=None, high=None, open_interval=False):
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        errors[name] = ["Must be a number."]
        return None
    if not math.isfinite(value):
        errors[name] = ["Must be a finite number."]
    elif open_interval and not (low < value < high):
        errors[name] = [f"Must be strictly between {low} and {high}."]
    elif low is not None and not open_interval and value <= low:
        errors[name] = [f"Must be greater than {low}."]
    return value


def plan_compute(
    *, metric_type: str, mde, alpha=0.05, power=0.8, alternative: str = "two-sided", baseline=None, sd=None,
    allocation=None, daily_units=None, kind: str = "ab", sequential: str = "none", looks=None,
) -> dict:
    """Sample size per arm, total, planned days and the look schedule — the plan endpoint, the
    portal's calculator and experiment design all call this. Binary: R `power.prop.test`
    (p2 = baseline + mde); continuous: R `power.t.test`. A group-sequential (O'Brien–Fleming)
    design plans the fixed-horizon size times the inflation factor of its looks
    (`stats.obrien_fleming_inflation`) as its maximum. A shadow experiment's horizon is n pairs
    (every request yields one; the two-sample size is conservative for the paired tests)."""
    errors: dict = {}
    if kind not in Experiment.Kind.values:
        errors["kind"] = [f"Must be one of {', '.join(Experiment.Kind.values)}."]
    if sequential not in Experiment.Sequential.values:
        errors["sequential"] = [f"Must be one of {', '.join(Experiment.Sequential.values)}."]
    elif sequential == Experiment.Sequential.OBF:
        try:
            looks = int(looks)
        except (TypeError, ValueError):
            looks = None
        if looks is None or not 2 <= looks <= 50:
            errors["looks"] = ["A group-sequential design needs 2 to 50 planned looks."]
    if metric_type not in Experiment.MetricType.values:
        errors["metric_type"] = [f"Must be one of {', '.join(Experiment.MetricType.values)}."]
    if alternative not in stats.ALTERNATIVES:
        errors["alternative"] = [f"Must be one of {', '.join(stats.ALTERNATIVES)}."]
    alpha = _finite(alpha, "alpha", errors, low=0, high=1, open_interval=True)
    power = _finite(power, "power", errors, low=0, high=1, open_interval=True)
    mde = _finite(mde, "mde", errors)
    if mde is not None and "mde" not in errors and mde == 0:
        errors["mde"] = ["Must not be zero."]
    if metric_type == Experiment.MetricType.BINARY:
        baseline = _finite(baseline, "baseline", errors, low=0, high=1, open_interval=True)
        if "baseline" not in errors and "mde" not in errors and not (0 < baseline + mde < 1):
            errors["mde"] = ["baseline + mde must be a rate strictly between 0 and 1."]
    elif metric_type == Experiment.MetricType.CONTINUOUS:
        sd = _finite(sd, "sd", errors, low=0)
        baseline = _finite(baseline, "baseline", errors, required=False)
    daily_units = _finite(daily_units, "daily_units", errors, required=False, low=0)
    if allocation is not None:
        if not isinstance(allocation, (list, tuple)) or len(allocation) < 2:
            errors["allocation"] = ["Give one positive weight per arm (at least two)."]
        else:
            try:
                allocation = [float(w) for w in allocation]
            except (TypeError, ValueError):
                allocation = None
            if allocation is None or not all(math.isfinite(w) and w > 0 for w in allocation):
                errors["allocation"] = ["Weights must be positive numbers."]
    if errors:
        raise InvalidInput("Invalid plan.", fields=errors)
    shadow = kind == Experiment.Kind.SHADOW
    allocation = None if shadow else allocation
    try:
        if metric_type == Experiment.MetricType.BINARY:
            result = stats.sample_size_proportions(baseline, mde, alpha, power, alternative, allocation)
        else:
            result = stats.sample_size_means(sd, mde, alpha, power, alternative, allocation)
        inflation, n_looks = 1.0, 1
        if sequential == Experiment.Sequential.OBF:
            n_looks = looks
            inflation = stats.obrien_fleming_inflation(looks, alpha=alpha, power=power, alternative=alternative)
    except ValueError as exc:
        raise InvalidInput(str(exc), fields={"non_field_errors": [str(exc)]}) from exc
    n_per_arm = result.n_per_arm if inflation == 1.0 else math.ceil(result.n * inflation)
    if shadow:
        arm_sizes, total_n = [n_per_arm], n_per_arm
    else:
        total_n, sizes, _ = stats.allocate_sample_size(n_per_arm, allocation)
        arm_sizes = list(sizes)
    days = stats.planned_duration_days(total_n, daily_units) if daily_units else None
    schedule = []
    for k in range(1, n_looks + 1):
        sizes_k = [math.ceil(n * k / n_looks) for n in arm_sizes]
        schedule.append({
            "look": k, "fraction": k / n_looks, "arm_sizes": sizes_k, "total": sum(sizes_k),
            "day": stats.planned_duration_days(sum(sizes_k), daily_units) if daily_units else None,
        })
    method = result.method
    if inflation != 1.0:
        method += f"; × {inflation:.4f}, the maximum-sample inflation of {n_looks} O'Brien–Fleming looks"
    return {
        "n": result.n,
        "n_fixed_per_arm": result.n_per_arm,
        "inflation": inflation,
        "n_per_arm": n_per_arm,
        "arm_sizes": arm_sizes,
        "total_n": total_n,
        "pairs": n_per_arm if shadow else None,
        "days": days,
        "looks": schedule,
        "method": method,
        "conventions": result.conventions,
    }


# --- design --------------------------------------------------------------------------------


def _validate_design(exp: Experiment, champion, challengers, allocation, arm_names) -> list[dict]:
    """Check the design and protocol, compute the plan, return the arm specs."""
    errors: dict = {}
    if exp.kind not in Experiment.Kind.values:
        errors["kind"] = ["Must be ab or shadow."]
    tests = SHADOW_TESTS if exp.kind == Experiment.Kind.SHADOW else AB_TESTS
    if exp.test not in tests:
        errors["test"] = [f"For a {exp.kind} experiment use one of {', '.join(tests)}."]
    elif tests[exp.test] != exp.metric_type:
        errors["test"] = [f"{exp.get_test_display()} needs a {tests[exp.test]} goal metric."]
    if exp.test == Experiment.Test.MCNEMAR and exp.alternative != "two-sided":
        errors["alternative"] = ["McNemar's test is two-sided only."]
    if exp.splitting not in Experiment.Splitting.values:
        errors["splitting"] = ["Must be random or sticky."]
    if exp.direction not in Experiment.Direction.values:
        errors["direction"] = ["Must be increase or decrease."]
    if exp.sequential == Experiment.Sequential.OBF:
        if not exp.looks or exp.looks < 2 or exp.looks > 50:
            errors["looks"] = ["A group-sequential design needs 2 to 50 planned looks."]
        if exp.test not in (Experiment.Test.TWO_PROPORTION_Z, Experiment.Test.WELCH_T, Experiment.Test.PAIRED_T):
            errors["sequential"] = ["Sequential boundaries apply to the z and t tests only."]
    elif exp.sequential != Experiment.Sequential.NONE:
        errors["sequential"] = ["Must be none or obf."]
    secondary = exp.secondary_metrics or []
    if not isinstance(secondary, list) or not all(
        isinstance(m, dict) and isinstance(m.get("name"), str) and m.get("name")
        and m.get("type") in Experiment.MetricType.values
        for m in secondary
    ):
        errors["secondary_metrics"] = ['A list of {"name": …, "type": "binary"|"continuous"}.']
    elif secondary and exp.kind == Experiment.Kind.SHADOW:
        errors["secondary_metrics"] = ["Shadow experiments have the goal metric only."]
    elif len({m["name"] for m in secondary} | {exp.metric_name}) != len(secondary) + 1:
        errors["secondary_metrics"] = ["Metric names must be distinct."]
    versions = [champion, *challengers]
    if not challengers:
        errors["challengers"] = ["Name at least one challenger version."]
    elif exp.kind == Experiment.Kind.SHADOW and len(challengers) != 1:
        errors["challengers"] = ["A shadow experiment has exactly one challenger."]
    if any(v.model_id != exp.model_id for v in versions):
        errors["challengers"] = ["All versions must belong to the experiment's model."]
    elif len({v.pk for v in versions}) != len(versions):
        errors["challengers"] = ["Champion and challengers must be distinct versions."]
    if arm_names is None:
        if exp.kind == Experiment.Kind.SHADOW:
            arm_names = ["champion", "challenger"]
        elif len(challengers) == 1:
            arm_names = ["control", "treatment"]
        else:
            arm_names = [f"v{v.number}" for v in versions]
    if len(arm_names) != len(versions) or len(set(arm_names)) != len(arm_names) or not all(
        isinstance(n, str) and 0 < len(n) <= 50 and "," not in n for n in arm_names
    ):
        errors["arm_names"] = ["One distinct name (1–50 characters, no comma) per arm, control first."]
    if allocation is not None and (not isinstance(allocation, list) or len(allocation) != len(versions)):
        errors["allocation"] = ["One weight per arm, control first."]
    if errors:
        raise InvalidInput("Invalid experiment design.", fields=errors)
    plan = plan_compute(
        metric_type=exp.metric_type, mde=exp.mde, alpha=exp.alpha, power=exp.power, alternative=exp.alternative,
        baseline=exp.baseline, sd=exp.sd, daily_units=exp.daily_units, kind=exp.kind,
        allocation=(allocation or [1.0] * len(versions)) if exp.kind == Experiment.Kind.AB else None,
        sequential=exp.sequential, looks=exp.looks,
    )
    exp.n_per_arm, exp.total_n, exp.days = plan["n_per_arm"], plan["total_n"], plan["days"]
    weights = allocation or [1.0] * len(versions)
    return [
        {"name": n, "version": v, "weight": float(w), "position": i}
        for i, (n, v, w) in enumerate(zip(arm_names, versions, weights, strict=True))
    ]


def _arms_snapshot(exp) -> list:
    return [{"name": a.name, "version": a.version.number, "weight": a.weight} for a in exp.arms.order_by("position")]


@transaction.atomic
def experiment_create(
    *, actor, model, champion, challengers, allocation=None, arm_names=None, salt: str = "", **design
) -> Experiment:
    _require(can_run(actor, model), "Only those who may change this model run experiments on it.")
    exp = Experiment(model=model, created_by=actor, salt=salt or secrets.token_hex(8), **design)
    specs = _validate_design(exp, champion, list(challengers), allocation, arm_names)
    exp.save()
    Arm.objects.bulk_create([Arm(experiment=exp, **s) for s in specs])
    audit_record(
        action="experiment.create", actor=actor, obj=exp,
        changes={**diff({}, snapshot(exp, DESIGN_FIELDS)), "arms": {"before": None, "after": _arms_snapshot(exp)}},
    )
    return exp


def _refuse_locked(*, actor, experiment: Experiment, attempted: dict) -> None:
    """Audit the refused change in its own committed transaction, then refuse with 409."""
    audit_record(
        action="experiment.change_refused", actor=actor, obj=experiment,
        changes={"attempted": {"before": None, "after": attempted}, "status": {"before": experiment.status, "after": experiment.status}},
    )
    raise Conflict(
        "The protocol is locked: the experiment has started, so its design and protocol cannot change.",
        fields={"status": [experiment.status]}, code="protocol_locked",
    )


def experiment_update(
    *, actor, experiment: Experiment, champion=None, challengers=None, allocation=None, arm_names=None, **fields
) -> Experiment:
    _require(can_run(actor, experiment), "You may not change this experiment.")
    attempted = {k: v for k, v in fields.items()}
    for key, value in (("champion", champion), ("challengers", challengers), ("allocation", allocation), ("arm_names", arm_names)):
        if value is not None:
            attempted[key] = [getattr(v, "number", v) for v in value] if isinstance(value, list) else getattr(value, "number", value)
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if not exp.is_locked:
            before = {**snapshot(exp, DESIGN_FIELDS), "arms": _arms_snapshot(exp)}
            arms = list(exp.arms.select_related("version").order_by("position"))
            for key, value in fields.items():
                setattr(exp, key, value)
            champion = champion or arms[0].version
            if challengers is None:
                challengers = [a.version for a in arms[1:]]
            if allocation is None and len(challengers) + 1 == len(arms):
                allocation = [a.weight for a in arms]
            if arm_names is None and len(challengers) + 1 == len(arms):
                arm_names = [a.name for a in arms]
            specs = _validate_design(exp, champion, list(challengers), allocation, arm_names)
            exp.save()
            exp.arms.all().delete()
            Arm.objects.bulk_create([Arm(experiment=exp, **s) for s in specs])
            changes = diff(before, {**snapshot(exp, DESIGN_FIELDS), "arms": _arms_snapshot(exp)})
            if changes:
                audit_record(action="experiment.update", actor=actor, obj=exp, changes=changes)
            return exp
    _refuse_locked(actor=actor, experiment=exp, attempted=attempted)


@transaction.atomic
def experiment_start(*, actor, experiment: Experiment) -> Experiment:
    """Start the experiment and lock its protocol (recorded with a hash of what was locked)."""
    _require(can_run(actor, experiment), "You may not start this experiment.")
    exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if exp.status != Experiment.Status.DRAFT:
        raise Conflict("Only a draft experiment can be started.", fields={"status": [exp.status]})
    protocol = {**snapshot(exp, DESIGN_FIELDS), "arms": _arms_snapshot(exp)}
    exp.status, exp.started_at = Experiment.Status.RUNNING, timezone.now()
    exp.save(update_fields=["status", "started_at", "updated_at"])
    digest = hashlib.sha256(json.dumps(protocol, sort_keys=True).encode()).hexdigest()
    audit_record(
        action="experiment.start", actor=actor, obj=exp,
        changes={"status": {"before": "draft", "after": exp.status}, "protocol_sha256": {"before": None, "after": digest}},
    )
    return exp


@transaction.atomic
def experiment_stop(*, actor, experiment: Experiment, reason: str = "") -> Experiment:
    """Stop a running experiment. Before the horizon this is an early stop: recorded as such,
    and no analysis of it gives a significance verdict."""
    _require(can_run(actor, experiment), "You may not stop this experiment.")
    exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if exp.status != Experiment.Status.RUNNING:
        raise Conflict("Only a running experiment can be stopped.", fields={"status": [exp.status]})
    reached = horizon(exp)["reached"]
    exp.status = Experiment.Status.COMPLETED if reached else Experiment.Status.STOPPED
    exp.stopped_early, exp.stopped_at, exp.stop_reason = not reached, timezone.now(), reason
    exp.save(update_fields=["status", "stopped_early", "stopped_at", "stop_reason", "updated_at"])
    audit_record(
        action="experiment.stop", actor=actor, obj=exp,
        changes={"status": {"before": "running", "after": exp.status}, "stopped_early": {"before": False, "after": exp.stopped_early},
                 "reason": {"before": None, "after": reason}},
    )
    return exp


def experiment_assign(*, experiment: Experiment, unit: str) -> Arm:
    """The arm serving `unit` — decided by hashing, nothing is written. Shadow experiments serve
    the champion's answer to everyone (the challenger scores in the background)."""
    if not unit or len(unit) > 200:
        raise InvalidInput("Give a unit id of 1–200 characters.", fields={"unit": ["Required, at most 200 characters."]})
    arms = list(experiment.arms.all())
    if experiment.kind == Experiment.Kind.SHADOW:
        return arms[0]
    name = assign_arm(experiment.salt, unit, [a.name for a in arms], [a.weight for a in arms])
    return next(a for a in arms if a.name == name)


# --- ingest --------------------------------------------------------------------------------


class _RowError(Exception):
    pass


def _format(content_type: str) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return "csv"
    if media in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        return "ndjson"
    raise InvalidInput(
        "Send CSV (text/csv) or NDJSON (application/x-ndjson).", fields={"content_type": [f"Unsupported: {media or 'none'}"]}
    )


def _records(fh, fmt: str, columns: set[str], required: set[str]):
    """Yield (row number, dict) from the body, streaming. CSV row 1 is the first line after the
    header; NDJSON row n is line n (blank lines are skipped but counted)."""
    fh.seek(0)
    # utf-8-sig: UTF-8, with or without the byte-order mark Excel writes at the start.
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="" if fmt == "csv" else None)
    try:
        if fmt == "csv":
            reader = csv.DictReader(text)
            header = set(reader.fieldnames or [])
            if missing := required - header:
                raise InvalidInput("The CSV header lacks required columns.", fields={"header": [f"missing: {', '.join(sorted(missing))}"]})
            if extra := header - columns:
                raise InvalidInput("The CSV header has unknown columns.", fields={"header": [f"unknown: {', '.join(sorted(extra))}"]})
            for number, row in enumerate(reader, start=1):
                if None in row:
                    yield number, _RowError("more fields than header columns")
                    continue
                yield number, {k: v for k, v in row.items() if v is not None}
        else:
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    yield number, _RowError("not valid JSON")
                    continue
                if not isinstance(record, dict):
                    yield number, _RowError("not a JSON object")
                    continue
                yield number, record
    except UnicodeDecodeError as exc:
        raise InvalidInput("The body is not UTF-8 (with or without a byte-order mark).", fields={"body": [str(exc)]}) from exc
    finally:
        text.detach()


def _number(raw, name: str, binary: bool):
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raw = int(raw)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _RowError(f"{name}: not a number ({str(raw)[:40]!r})") from None
    if not math.isfinite(value):
        raise _RowError(f"{name}: must be finite")
    if binary and value not in (0.0, 1.0):
        raise _RowError(f"{name}: must be 0 or 1 for a binary metric (got {str(raw)[:40]!r})")
    return value


def _text(raw, name: str, *, required: bool) -> str:
    value = "" if raw is None else str(raw).strip()
    if required and not value:
        raise _RowError(f"{name}: required")
    if len(value) > 200:
        raise _RowError(f"{name}: longer than 200 characters")
    return value


def _row_parser(exp: Experiment, arms: dict[str, Arm], now):
    binary = exp.metric_type == Experiment.MetricType.BINARY
    secondary = {m["name"]: m["type"] == Experiment.MetricType.BINARY for m in exp.secondary_metrics or []}
    if exp.kind == Experiment.Kind.SHADOW:
        required = {"request_id", "champion_value", "challenger_value"}
    else:
        required = {"unit_id", "arm", "value"}
    columns = required | {"event_id", "timestamp"} | set(secondary)

    def parse(record: dict) -> dict:
        if extra := set(record) - columns:
            raise _RowError(f"unknown field(s): {', '.join(sorted(map(str, extra)))[:200]}")
        stamp = record.get("timestamp")
        if stamp in (None, ""):
            when = now
        else:
            when = parse_datetime(str(stamp)) if isinstance(stamp, str) else None
            if when is None:
                raise _RowError(f"timestamp: not an ISO 8601 date-time ({str(stamp)[:40]!r})")
            if timezone.is_naive(when):
                when = when.replace(tzinfo=UTC)
        out = {"event_id": _text(record.get("event_id"), "event_id", required=False), "timestamp": when}
        if exp.kind == Experiment.Kind.SHADOW:
            for key in ("request_id", "champion_value", "challenger_value"):
                if key not in record:
                    raise _RowError(f"{key}: required")
            out["unit_id"] = _text(record.get("request_id"), "request_id", required=True)
            out["champion_value"] = _number(record.get("champion_value"), "champion_value", binary)
            out["challenger_value"] = _number(record.get("challenger_value"), "challenger_value", binary)
            return out
        out["unit_id"] = _text(record.get("unit_id"), "unit_id", required=True)
        arm_name = _text(record.get("arm"), "arm", required=True)
        if arm_name not in arms:
            raise _RowError(f"arm: unknown arm {arm_name[:50]!r} (expected {', '.join(arms)})")
        out["arm"] = arms[arm_name]
        if "value" not in record:
            raise _RowError("value: required (leave it empty if the outcome is missing)")
        out["value"] = _number(record.get("value"), "value", binary)
        metrics = {}
        for name, is_binary in secondary.items():
            value = _number(record.get(name), name, is_binary)
            if value is not None:
                metrics[name] = value
        out["metrics"] = metrics or None
        return out

    return parse, columns, required


class TooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


def events_max_bytes() -> int:
    """The largest event upload accepted (settings.EVENTS_MAX_BYTES, env `EVENTS_MAX_BYTES`)."""
    return int(getattr(settings, "EVENTS_MAX_BYTES", 256 * 1024 * 1024))


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"The upload is larger than the limit of {limit:,} bytes; split it into several batches.",
        fields={"body": [f"At most {limit:,} bytes per upload."]},
    )


def _spool(body, limit: int) -> tuple[tempfile.SpooledTemporaryFile, str, int]:
    """Copy the request body to a spooled file (memory up to 8 MB, then disk), hashing it; stop
    with 413 as soon as it passes `limit` bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    digest, size = hashlib.sha256(), 0
    while chunk := body.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise _too_large(limit)
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    return spool, digest.hexdigest(), size


def events_ingest(
    *, actor, experiment: Experiment, body, content_type: str, content_length: int | None = None
) -> tuple[EventBatch, bool]:
    """Store one uploaded batch of events; returns (batch, created).

    Every row is validated before anything is stored: one bad row rejects the batch (400 with row
    numbers and reasons). The same body uploaded again returns the stored batch and adds nothing;
    events are deduplicated by `event_id` (rows without one get `<batch sha256[:16]>:<row>`).
    """
    _require(can_run(actor, experiment), "You may not upload events to this experiment.")
    fmt = _format(content_type)
    if experiment.status != Experiment.Status.RUNNING:
        raise Conflict("Events are accepted only while the experiment runs.", fields={"status": [experiment.status]})
    limit = events_max_bytes()
    if content_length is not None and content_length > limit:
        raise _too_large(limit)
    spool, sha, size = _spool(body, limit)
    with spool:
        existing = EventBatch.objects.filter(experiment=experiment, sha256=sha).first()
        if existing:
            return existing, False
        if size == 0:
            raise InvalidInput("The body is empty.", fields={"body": ["No rows."]})
        arms = {a.name: a for a in experiment.arms.all()}
        now = timezone.now()
        parse, columns, required = _row_parser(experiment, arms, now)

        # Pass 1: validate everything, store nothing.
        errors, rows = [], 0
        for number, record in _records(spool, fmt, columns, required):
            rows += 1
            try:
                if isinstance(record, _RowError):
                    raise record
                parse(record)
            except _RowError as exc:
                errors.append(f"row {number}: {exc}")
                if len(errors) >= MAX_REPORTED_ROW_ERRORS:
                    break
        if errors:
            raise InvalidInput(
                f"The batch was rejected; nothing of it was stored ({len(errors)} bad row(s) reported).",
                fields={"rows": errors},
            )
        if rows == 0:
            raise InvalidInput("The body has no rows.", fields={"body": ["No rows."]})

        # Pass 2: insert in chunks, in one transaction.
        try:
            with transaction.atomic():
                batch = EventBatch.objects.create(
                    experiment=experiment, sha256=sha, content_type=fmt, rows=rows, uploaded_by=actor
                )
                chunk = []
                for number, record in _records(spool, fmt, columns, required):
                    data = parse(record)
                    data["event_id"] = data["event_id"] or f"{sha[:16]}:{number}"
                    chunk.append(Event(experiment=experiment, batch=batch, **data))
                    if len(chunk) >= INGEST_CHUNK:
                        Event.objects.bulk_create(chunk, ignore_conflicts=True)
                        chunk = []
                if chunk:
                    Event.objects.bulk_create(chunk, ignore_conflicts=True)
                batch.stored = Event.objects.filter(batch=batch).count()
                batch.save(update_fields=["stored"])
                audit_record(
                    action="experiment.events_ingest", actor=actor, obj=experiment,
                    changes={"batch": {"before": None, "after": {"id": batch.pk, "sha256": sha, "rows": rows, "stored": batch.stored}}},
                )
        except IntegrityError:
            # The same body uploaded concurrently: the other upload stored it.
            existing = EventBatch.objects.filter(experiment=experiment, sha256=sha).first()
            if existing is None:
                raise
            return existing, False
    return batch, True


# --- analysis ------------------------------------------------------------------------------


@transaction.atomic
def analysis_request(*, actor, experiment: Experiment, trigger: str = "request") -> Analysis:
    """Queue an analysis on a worker (202). `actor=None` is the beat schedule."""
    if actor is not None:
        _require(can_run(actor, experiment) or can_decide(actor, experiment), "You may not analyse this experiment.")
    if experiment.status == Experiment.Status.DRAFT:
        raise Conflict("A draft experiment has no data to analyse.", fields={"status": [experiment.status]})
    from .tasks import analysis_run_task

    analysis = Analysis.objects.create(experiment=experiment, trigger=trigger, requested_by=actor)
    job = job_create(kind="abtests.analysis", actor=actor, obj=analysis)
    analysis.job = job
    analysis.save(update_fields=["job"])
    audit_record(action="experiment.analysis_request", actor=actor, obj=experiment,
                 changes={"analysis": {"before": None, "after": analysis.pk}, "trigger": {"before": None, "after": trigger}})
    job_enqueue(job=job, task=analysis_run_task)
    return analysis


def analyses_due() -> list[Analysis]:
    """Beat: queue one analysis for each running experiment that reached its horizon and has no
    completed, queued or running analysis yet. Running it twice queues nothing twice."""
    queued = []
    busy = (Analysis.Status.QUEUED, Analysis.Status.RUNNING, Analysis.Status.COMPLETED)
    for exp in Experiment.objects.filter(status=Experiment.Status.RUNNING).exclude(analyses__status__in=busy):
        with transaction.atomic():
            locked = Experiment.objects.select_for_update().get(pk=exp.pk)
            if locked.analyses.filter(status__in=busy).exists() or not horizon(locked)["reached"]:
                continue
            queued.append(analysis_request(actor=None, experiment=locked, trigger="beat"))
    return queued


def analysis_run(*, analysis_id: int) -> Analysis:
    from .analysis import analyse

    analysis = Analysis.objects.select_related("experiment").get(pk=analysis_id)
    Analysis.objects.filter(pk=analysis_id).update(status=Analysis.Status.RUNNING)
    try:
        status, results, counts, code = analyse(analysis.experiment)
    except ValueError as exc:  # the data cannot support the test (e.g. zero variance)
        status, results, counts, code = Analysis.Status.FAILED, {"error": f"The data cannot support the test: {exc}"}, {}, {}
    with transaction.atomic():
        analysis.status, analysis.results, analysis.input_counts, analysis.code_version = status, results, counts, code
        analysis.finished_at = timezone.now()
        analysis.save(update_fields=["status", "results", "input_counts", "code_version", "finished_at"])
        audit_record(action="experiment.analysis", actor=None, obj=analysis.experiment,
                     changes={"analysis": {"before": None, "after": {"id": analysis.pk, "status": status}}})
    return analysis


def analysis_fail(*, analysis_id: int, error: BaseException, attempts: int = 1) -> Analysis:
    """Record that an analysis could not be computed (the worker gave up after `attempts` tries):
    failed, with the time and a message for people; the raw exception belongs in the log."""
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().select_related("experiment").get(pk=analysis_id)
        analysis.status = Analysis.Status.FAILED
        analysis.finished_at = timezone.now()
        analysis.results = {
            "error": (
                f"The analysis could not be computed: an internal error ({type(error).__name__}) stopped it "
                f"after {attempts} attempt(s). Nothing was decided; request a new analysis, and if it fails "
                f"again tell an administrator (the worker's log has the details for job {analysis.job_id})."
            ),
        }
        analysis.save(update_fields=["status", "finished_at", "results"])
        audit_record(action="experiment.analysis", actor=None, obj=analysis.experiment,
                     changes={"analysis": {"before": None, "after": {"id": analysis.pk, "status": analysis.status}}})
    return analysis


# --- decision ------------------------------------------------------------------------------


@transaction.atomic
def decision_record(*, actor, experiment: Experiment, outcome: str, rationale: str, version=None) -> Decision:
    """Record the decision. Adopting needs a completed (horizon reached, not early-stopped)
    analysis; the running experiment is closed by it."""
    exp = Experiment.objects.select_for_update().select_related("model__use_case").get(pk=experiment.pk)
    _require(can_decide(actor, exp), "Decisions are signed by the people the RACI holds accountable for model acceptance.")
    errors = {}
    if outcome not in Decision.Outcome.values:
        errors["outcome"] = [f"Must be one of {', '.join(Decision.Outcome.values)}."]
    if not (rationale or "").strip():
        errors["rationale"] = ["Explain the decision."]
    if errors:
        raise InvalidInput("Invalid decision.", fields=errors)
    if exp.status == Experiment.Status.DRAFT:
        raise Conflict("A draft experiment cannot be decided.", fields={"status": [exp.status]})
    if exp.status == Experiment.Status.DECIDED:
        raise Conflict("This experiment is already decided.", fields={"status": [exp.status]})
    # The verdict of record is the first completed analysis: the one at the planned look. Later
    # analyses read the same events (see `horizon`), so they cannot move it.
    analysis = exp.analyses.filter(status=Analysis.Status.COMPLETED).order_by("created_at", "pk").first()
    challengers = [a.version for a in exp.arms.select_related("version").order_by("position")[1:]]
    if outcome == Decision.Outcome.ADOPT:
        if version is None and len(challengers) == 1:
            version = challengers[0]
        if version is None or version.pk not in {v.pk for v in challengers}:
            raise InvalidInput("Name the challenger version to adopt.", fields={"version": ["Must be one of the challengers."]})
        if analysis is None:
            raise Conflict(
                "No completed analysis: a challenger is adopted only on a result at the planned horizon.",
                fields={"analysis": ["none completed"]}, code="verdict_refused",
            )
    else:
        version = None
    decision = Decision.objects.create(
        experiment=exp, outcome=outcome, rationale=rationale, version=version, analysis=analysis, decided_by=actor
    )
    decision.signers.add(actor)
    if version is not None:
        decision.promotion_ref = _open_promotion(exp, version, actor)
        decision.save(update_fields=["promotion_ref"])
    before = exp.status
    if exp.status == Experiment.Status.RUNNING:
        exp.stopped_at = timezone.now()
    exp.status = Experiment.Status.DECIDED
    exp.save(update_fields=["status", "stopped_at", "updated_at"])
    audit_record(
        action="experiment.decision", actor=actor, obj=exp,
        changes={"status": {"before": before, "after": exp.status}, "outcome": {"before": None, "after": outcome},
                 "version": {"before": None, "after": version.number if version else None},
                 "analysis": {"before": None, "after": analysis.pk if analysis else None},
                 "promotion": {"before": None, "after": decision.promotion_ref}},
    )
    return decision


def _open_promotion(exp: Experiment, version, decider) -> str:
    """"Adopt" opens a promotion request of the challenger to its next stage, in the name of the
    person who decided (the trail records who did what; as its requester, the decider cannot
    also approve it). Returns the request id, or why none was opened (e.g. already in
    production, use case unclassified)."""
    from governance.services import promotion_request
    from registry.models import STAGE_ORDER

    if version.stage not in STAGE_ORDER or version.stage == STAGE_ORDER[-1]:
        return f"not opened: version is {version.stage}"
    target = STAGE_ORDER[STAGE_ORDER.index(version.stage) + 1]
    try:
        with transaction.atomic():
            promotion = promotion_request(
                actor=decider, version=version, target_stage=target, adoption=True,
                reason=f"Adopted in experiment '{exp.name}' (#{exp.pk}); decision signed by {decider.get_username()}.",
            )
    except (Conflict, Forbidden, InvalidInput) as exc:
        return f"not opened: {exc.message}"[:64]
    return str(promotion.pk)


@transaction.atomic
def decision_sign(*, actor, experiment: Experiment) -> Decision:
    """Co-sign a recorded decision (another person the RACI names)."""
    decision = Decision.objects.select_for_update().select_related("experiment__model__use_case").filter(experiment=experiment).first()
    if decision is None:
        raise Conflict("No decision to sign yet.")
    _require(can_decide(actor, decision.experiment), "The RACI does not name you for model acceptance.")
    if decision.signers.filter(pk=actor.pk).exists():
        raise Conflict("You already signed this decision.")
    decision.signers.add(actor)
    audit_record(action="experiment.decision_sign", actor=actor, obj=experiment,
                 changes={"signer": {"before": None, "after": actor.get_username()}})
    return decision

