"""Planning: sample size, duration and the look schedule of an experiment — the plan endpoint,
the portal's calculator and experiment design all call `plan_compute`."""

import math

from core.errors import InvalidInput

from . import stats
from .models import Experiment


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
