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
