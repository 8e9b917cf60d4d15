"""The stateless calculator, checked against R's published examples (?power.prop.test, ?power.t.test)."""

import math

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/v1/experiments/plan/"


def test_proportions_match_power_prop_test(api):
    # power.prop.test(p1 = .50, p2 = .75, power = .90)  ->  "n = 76.7" in R's docs (R's uniroot
    # stops at a loose tolerance; we solve to full precision, so compare to the printed digits).
    r = api("dana").post(URL, {"metric_type": "binary", "baseline": 0.5, "mde": 0.25, "power": 0.9, "daily_units": 50}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["n"] == pytest.approx(76.7, abs=0.05)
    assert body["n_per_arm"] == 77
    assert body["total_n"] == 154
    assert body["days"] == math.ceil(154 / 50)


def test_means_match_power_t_test(api):
    # power.t.test(power = .90, delta = 1)  ->  n = 22.02110
    r = api("dana").post(URL, {"metric_type": "continuous", "sd": 1, "mde": 1, "power": 0.9}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["n"] == pytest.approx(22.02110, abs=1e-4)
    assert r.json()["n_per_arm"] == 23 and r.json()["total_n"] == 46 and r.json()["days"] is None
    # power.t.test(power = .90, delta = 1, alternative = "one.sided")  ->  n = 17.84713
    r = api("dana").post(URL, {"metric_type": "continuous", "sd": 1, "mde": 1, "power": 0.9, "alternative": "larger"}, format="json")
    assert r.json()["n"] == pytest.approx(17.84713, abs=1e-4)


def test_unequal_allocation_gives_the_smallest_arm_the_planned_size(api):
    r = api("dana").post(URL, {"metric_type": "continuous", "sd": 1, "mde": 1, "power": 0.9, "allocation": [1, 3]}, format="json")
    assert r.status_code == 200
    assert min(r.json()["arm_sizes"]) >= 23 and r.json()["total_n"] == sum(r.json()["arm_sizes"])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"metric_type": "binary", "mde": 0.1}, "baseline"),
        ({"metric_type": "binary", "baseline": 0.95, "mde": 0.1}, "mde"),
        ({"metric_type": "continuous", "mde": 0.1}, "sd"),
        ({"metric_type": "continuous", "sd": 1, "mde": 0.1, "alpha": 1.5}, "alpha"),
        ({"metric_type": "continuous", "sd": 1, "mde": 0.1, "power": 0}, "power"),
        ({"metric_type": "continuous", "sd": -1, "mde": 0.1}, "sd"),
        ({"metric_type": "continuous", "sd": 1, "mde": 0}, "mde"),
        ({"metric_type": "counts", "sd": 1, "mde": 0.1}, "metric_type"),
        ({"metric_type": "continuous", "sd": 1, "mde": 0.1, "allocation": [1, -1]}, "allocation"),
    ],
)
def test_bad_input_is_400_with_the_field(api, payload, field):
    r = api("dana").post(URL, payload, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"]


def test_one_sided_mde_against_its_direction_is_400(api):
    r = api("dana").post(URL, {"metric_type": "continuous", "sd": 1, "mde": -1, "alternative": "larger"}, format="json")
    assert r.status_code == 400


# --- group-sequential designs: the maximum sample and the look schedule ------------------------


def _mvn_upper_crossing(bounds, fractions, drift, two_sided):
    """Independent reference: P(first crossing is of the upper boundary) from scipy's
    multivariate normal CDF over the looks (Z_k with mean drift·sqrt(t_k), corr sqrt(t_i/t_j))."""
    import numpy as np
    from scipy.stats import multivariate_normal, norm

    t = np.asarray(fractions)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    mean = drift * np.sqrt(t)
    c = np.abs(np.asarray(bounds))
    total = 0.0
    for k in range(len(t)):
        sub = slice(0, k + 1)
        low = np.concatenate([-c[:k] if two_sided else np.full(k, -np.inf), [c[k]]])
        high = np.concatenate([c[:k], [np.inf]])
        dist = multivariate_normal(mean[sub], cov[sub, sub], allow_singular=True)
        total += dist.cdf(high, lower_limit=low) if k else float(norm.sf(c[0] - mean[0]))
    return total


@pytest.mark.parametrize(("looks", "alternative"), [(3, "two-sided"), (4, "larger")])
def test_group_sequential_power_matches_the_multivariate_normal(looks, alternative):
    from abtests import stats

    fractions = [k / looks for k in range(1, looks + 1)]
    bounds = stats.obrien_fleming_boundaries(fractions, alpha=0.05, alternative=alternative).z_boundaries
    for drift in (1.5, 2.8):
        ours = stats.group_sequential_power(bounds, fractions, drift, two_sided=alternative == "two-sided")
        assert ours == pytest.approx(_mvn_upper_crossing(bounds, fractions, drift, alternative == "two-sided"), abs=2e-4)


def test_obrien_fleming_inflation_reaches_the_planned_power():
    from scipy.stats import norm

    from abtests import stats

    looks, alpha, power = 4, 0.05, 0.8
    inflation = stats.obrien_fleming_inflation(looks, alpha=alpha, power=power)
    fractions = [k / looks for k in range(1, looks + 1)]
    bounds = stats.obrien_fleming_boundaries(fractions, alpha=alpha).z_boundaries
    drift = (norm.isf(alpha / 2) + norm.isf(1 - power)) * math.sqrt(inflation)
    assert _mvn_upper_crossing(bounds, fractions, drift, True) == pytest.approx(power, abs=5e-4)
    # the fixed-design drift falls short of the power with four looks
    assert _mvn_upper_crossing(bounds, fractions, drift / math.sqrt(inflation), True) < power - 0.003


def test_the_calculator_inflates_the_maximum_for_sequential_looks_and_gives_the_schedule(api):
    base = {"metric_type": "binary", "baseline": 0.1, "mde": 0.02, "daily_units": 1000}
    fixed = api("dana").post(URL, base, format="json").json()
    four = api("dana").post(URL, {**base, "sequential": "obf", "looks": 4}, format="json").json()
    ten = api("dana").post(URL, {**base, "sequential": "obf", "looks": 10}, format="json").json()
    assert fixed["n_per_arm"] < four["n_per_arm"] < ten["n_per_arm"]
    assert four["n_fixed_per_arm"] == ten["n_fixed_per_arm"] == fixed["n_per_arm"]
    assert four["n_per_arm"] == math.ceil(fixed["n"] * four["inflation"])
    assert [look["fraction"] for look in four["looks"]] == [0.25, 0.5, 0.75, 1.0]
    assert four["looks"][-1]["arm_sizes"] == four["arm_sizes"] and len(ten["looks"]) == 10
    assert four["looks"][0]["arm_sizes"] == [math.ceil(n / 4) for n in four["arm_sizes"]]
    assert fixed["looks"] == [{"look": 1, "fraction": 1.0, "arm_sizes": fixed["arm_sizes"], "total": fixed["total_n"],
                               "day": fixed["days"]}]
    r = api("dana").post(URL, {**base, "sequential": "obf"}, format="json")
    assert r.status_code == 400 and "looks" in r.json()["errors"]


def test_a_sequential_experiment_plans_the_inflated_maximum(make_experiment):
    fixed = make_experiment("welch_t", start=False)
    sequential = make_experiment("welch_t", start=False, sequential="obf", looks=4, name="seq")
    assert sequential.n_per_arm > fixed.n_per_arm and sequential.total_n == 2 * sequential.n_per_arm
