"""One verdict per planned look (issue 8, point 8).

Re-analysing after the planned horizon at every 5 % of extra data, each time at the full alpha,
and deciding on the latest analysis raised the false-positive rate from 0.047 to 0.13. An
analysis now reads the first planned units of each arm (a group-sequential one: the quota of each
planned look reached), so re-running it gives the same verdict.
"""

import functools
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from abtests import stats
from abtests.decisions import decision_record
from abtests.horizon import look_quota, looks_reached

from .conftest import csv_body, ndjson_body

ALPHA = 0.05
PLANNED = 200  # units per arm at the horizon
EXTRA = [PLANNED + PLANNED * k // 20 for k in range(0, 21)]  # the horizon, then every 5 % up to 2×


def _welch_p(a, b) -> float:
    args = (len(a), float(a.sum()), float((a * a).sum()), len(b), float(b.sum()), float((b * b).sum()))
    return stats.welch_ttest(*args, alpha=ALPHA).p_value


def _verdict(p_of, have: int, looks: int) -> bool:
    """What the analysis decides when each arm holds `have` units: the looks reached, each on
    its own planned quota (`p_of(q)`: the p-value on the first q units of each arm), decided by Holm with O'Brien–Fleming thresholds (one look: alpha)."""
    reached = looks_reached([PLANNED, PLANNED], [have, have], looks)
    p_by_look = []
    for k in range(1, reached + 1):
        q = look_quota(PLANNED, k, looks)
        p_by_look.append([p_of(q)])
    stop, rejected, _ = stats.holm_group_sequential(p_by_look, lambda level: _thresholds(looks, level), alpha=ALPHA)
    return stop is not None and rejected[0]


@functools.cache
def _thresholds(looks: int, level: float) -> tuple:
    if looks == 1:
        return (level,)
    fractions = [k / looks for k in range(1, looks + 1)]
    return stats.obrien_fleming_boundaries(fractions, alpha=level).nominal_p_values


def _simulate(looks: int, runs: int = 300):
    rng = np.random.default_rng(2026)
    naive = ours = 0
    for _ in range(runs):
        a, b = rng.normal(0, 1, 2 * PLANNED), rng.normal(0, 1, 2 * PLANNED)  # no effect
        # before the fix: every re-analysis past the horizon tests all the data at full alpha
        naive += any(_welch_p(a[:n], b[:n]) <= ALPHA for n in EXTRA)
        # now: every re-analysis gives the verdict of its planned looks
        p_of = functools.cache(lambda q, a=a, b=b: _welch_p(a[:q], b[:q]))
        verdicts = {_verdict(p_of, n, looks) for n in EXTRA}
        assert len(verdicts) == 1  # re-running later never changes it
        ours += verdicts.pop()
    return naive / runs, ours / runs


def test_re_analysing_past_the_horizon_keeps_the_false_positive_rate_at_alpha():
    naive, ours = _simulate(looks=1)
    se = (ALPHA * (1 - ALPHA) / 300) ** 0.5
    assert naive > ALPHA + 3 * se  # the simulation sees the problem…
    assert ours <= ALPHA + 2 * se  # …and the planned horizon removes it


def test_a_sequential_design_decides_only_at_its_planned_looks():
    naive, ours = _simulate(looks=4)
    se = (ALPHA * (1 - ALPHA) / 300) ** 0.5
    assert ours <= ALPHA + 2 * se and naive > ours


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_holm_over_challengers_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    p = list(np.concatenate([rng.uniform(0, 0.03, 2), rng.uniform(0, 1, 3)]))
    reject, adjusted, _, _ = multipletests(p, alpha=ALPHA, method="holm")
    ours = stats.holm(p, alpha=ALPHA)
    assert np.allclose(ours.adjusted_p_values, adjusted, rtol=1e-12) and list(ours.reject) == list(reject)
    # one look with thresholds = the level: the group-sequential step-down is Holm's procedure
    stop, rejected, _ = stats.holm_group_sequential([p], lambda level: [level], alpha=ALPHA)
    assert list(rejected) == list(reject) and (stop == 0) == any(reject)


# --- in the database --------------------------------------------------------------------------


def _events(arm_rows, start, prefix):
    """NDJSON rows with explicit event times, one second apart from `start`."""
    records, t = [], start
    for arm, values in arm_rows:
        for i, v in enumerate(values):
            records.append({"unit_id": f"{prefix}{arm}{i}", "arm": arm, "value": float(v),
                            "event_id": f"{prefix}{arm}{i}", "timestamp": t.isoformat()})
            t += timedelta(seconds=1)
    return ndjson_body(records)


@pytest.mark.django_db
def test_re_analysis_after_more_events_gives_the_identical_verdict(make_experiment, upload, analyse, cast):
    rng = np.random.default_rng(7)
    exp = make_experiment("welch_t")
    n = exp.n_per_arm
    start = timezone.now() - timedelta(days=1)
    a, b = rng.normal(10, 1, n), rng.normal(10.6, 1, n)
    assert upload(exp, _events([("control", a), ("treatment", b)], start, "h"), content_type="application/x-ndjson").status_code == 201
    first = analyse(exp)
    assert first["status"] == "completed"

    # Events past the horizon, chosen to turn the result around if they were read.
    later = start + timedelta(hours=12)
    flip = _events([("control", rng.normal(11, 1, n)), ("treatment", rng.normal(9, 1, n))], later, "x")
    assert upload(exp, flip, content_type="application/x-ndjson").status_code == 201
    again = analyse(exp)
    assert again["status"] == "completed"
    # the same verdict; the numbers equal up to the order in which the database adds the values
    keys = ("significant", "in_favour", "n", "metric", "arm")
    assert [{k: m[k] for k in keys} for m in again["metrics"]] == [{k: m[k] for k in keys} for m in first["metrics"]]
    for before, after in zip(first["metrics"], again["metrics"], strict=True):
        for key in ("p_value", "statistic", "effect_absolute"):
            assert after[key] == pytest.approx(before[key], rel=1e-12)
        assert after["ci_absolute"] == pytest.approx(before["ci_absolute"], rel=1e-12)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert again["metrics"][0]["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    # kept and shown, not read
    arms = {row["name"]: row for row in again["results"]["horizon"]["arms"]}
    assert arms["control"] == {"name": "control", "planned": n, "analysed": n, "past_horizon": n}
    assert again["progress"]["units"] == 4 * n

    decision = decision_record(actor=cast["rita"], experiment=exp, outcome="inconclusive", rationale="r")
    assert decision.analysis_id == first["id"]  # the verdict of record is the one at the horizon


@pytest.mark.django_db
def test_the_horizon_is_counted_in_event_time_not_upload_order(make_experiment, upload, analyse):
    rng = np.random.default_rng(8)
    exp = make_experiment("welch_t")
    n = exp.n_per_arm
    early = timezone.now() - timedelta(days=2)
    late_a, late_b = rng.normal(10, 1, n), rng.normal(10, 1, n)
    early_a, early_b = rng.normal(10, 1, n), rng.normal(11, 1, n)
    # the later events are uploaded first
    upload(exp, _events([("control", late_a), ("treatment", late_b)], early + timedelta(days=1), "l"),
           content_type="application/x-ndjson")
    upload(exp, _events([("control", early_a), ("treatment", early_b)], early, "e"), content_type="application/x-ndjson")
    (m,) = [m for m in analyse(exp)["metrics"] if m["role"] == "primary"]
    assert m["p_value"] == pytest.approx(sps.ttest_ind(early_b, early_a, equal_var=False).pvalue, rel=1e-9)


@pytest.mark.django_db
def test_several_challengers_are_holm_adjusted(make_experiment, upload, analyse, versions):
    rng = np.random.default_rng(9)
    exp = make_experiment("welch_t", challengers=versions[1:])
    n = exp.n_per_arm
    samples = {"v1": rng.normal(10, 1, n), "v2": rng.normal(10.45, 1, n), "v3": rng.normal(10.3, 1, n)}
    rows = [(f"{arm}-{i}", arm, repr(float(v))) for arm, xs in samples.items() for i, v in enumerate(xs)]
    assert upload(exp, csv_body(["unit_id", "arm", "value"], rows)).status_code == 201
    result = analyse(exp)
    primaries = [m for m in result["metrics"] if m["role"] == "primary"]
    p = [sps.ttest_ind(samples[arm], samples["v1"], equal_var=False).pvalue for arm in ("v2", "v3")]
    reject, adjusted, _, _ = multipletests(p, alpha=ALPHA, method="holm")
    assert [m["p_value_holm"] for m in primaries] == pytest.approx(list(adjusted), rel=1e-9)
    assert [m["significant"] for m in primaries] == list(reject)
    assert result["results"]["multiplicity"]["method"] == "holm" and "Holm" in primaries[0]["holm_conventions"]


def test_holm_at_planned_looks_recycles_alpha_and_stops_at_the_first_rejecting_look():
    """Worked by hand with thresholds(level) = [level / 10, level] (two looks)."""
    def thresholds(level):
        return [level / 10, level]

    # look 1: H1 0.002 <= 0.05/2/10 → rejected; H2 then at 0.05: 0.004 <= 0.005 → rejected, at look 1
    assert stats.holm_group_sequential([[0.002, 0.004], [0.01, 0.03]], thresholds) == (0, (True, True), (0.025, 0.05))
    # nothing at look 1; at look 2 H1 0.02 <= 0.025, then H2 0.04 <= 0.05
    assert stats.holm_group_sequential([[0.003, 0.2], [0.02, 0.04]], thresholds) == (1, (True, True), (0.025, 0.05))
    # H2 alone would need 0.04 <= 0.025: with H1 not rejected, neither is
    assert stats.holm_group_sequential([[0.5, 0.2], [0.3, 0.04]], thresholds) == (None, (False, False), (0.025, 0.025))


@pytest.mark.django_db
def test_a_sequential_design_keeps_the_verdict_of_the_look_that_crossed(make_experiment, upload, analyse):
    rng = np.random.default_rng(10)
    exp = make_experiment("welch_t", sequential="obf", looks=4)
    q1 = look_quota(exp.n_per_arm, 1, 4)
    start = timezone.now() - timedelta(days=1)
    a, b = rng.normal(0, 1, q1), rng.normal(2.5, 1, q1)
    upload(exp, _events([("control", a), ("treatment", b)], start, "s"), content_type="application/x-ndjson")
    first = analyse(exp)
    assert first["status"] == "completed" and first["results"]["sequential"]["look"] == 1
    (m1,) = first["metrics"]
    assert m1["significant"] is True
    assert m1["p_value"] == pytest.approx(sps.ttest_ind(b, a, equal_var=False).pvalue, rel=1e-9)
    # data up to the second look, pointing the other way: the design stopped at look 1
    more = _events([("control", rng.normal(1, 1, q1)), ("treatment", rng.normal(-1, 1, q1))], start + timedelta(hours=6), "t")
    upload(exp, more, content_type="application/x-ndjson")
    again = analyse(exp)
    assert again["results"]["sequential"]["look"] == 1 and again["results"]["sequential"]["looks_analysed"] == [1]
    assert again["metrics"][0]["p_value"] == pytest.approx(m1["p_value"], rel=1e-12)
    assert again["metrics"][0]["significant"] is True
