"""An experiment's life: design, start (locking the protocol), stop, and serving its arms."""

import hashlib
import json
import secrets

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record, diff, snapshot
from core.errors import Conflict, InvalidInput

from .access import can_run, require
from .assignment import assign_arm
from .horizon import horizon
from .models import Arm, Experiment
from .planning import plan_compute

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
    require(can_run(actor, model), "Only those who may change this model run experiments on it.")
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
    require(can_run(actor, experiment), "You may not change this experiment.")
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
    require(can_run(actor, experiment), "You may not start this experiment.")
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
    require(can_run(actor, experiment), "You may not stop this experiment.")
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
