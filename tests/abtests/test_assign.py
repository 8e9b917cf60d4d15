"""Sticky assignment: deterministic, the same in another process, balanced, no database write."""

import hashlib
import subprocess
import sys
from collections import Counter

import pytest

from abtests.assignment import assign_arm
from abtests.models import Event

UNITS = [f"customer-{i}" for i in range(200)]


def test_same_arms_in_a_separate_process():
    here = [assign_arm("salt-1", u, ["control", "treatment"], [1, 1]) for u in UNITS]
    code = (
        "import json,sys; from abtests.assignment import assign_arm; "
        f"print(json.dumps([assign_arm('salt-1', u, ['control', 'treatment'], [1, 1]) for u in {UNITS!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=".",
                         env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert here == __import__("json").loads(out.stdout)
    assert set(here) == {"control", "treatment"}


@pytest.mark.parametrize("weights", [[1, 1], [1, 3], [2, 1, 1]])
def test_balanced_within_one_percent_on_100k_ids(weights):
    names = [f"arm{i}" for i in range(len(weights))]
    counts = Counter(assign_arm("balance", f"id-{i}", names, weights) for i in range(100_000))
    for name, w in zip(names, weights, strict=True):
        assert abs(counts[name] / 100_000 - w / sum(weights)) < 0.01


def test_salt_changes_the_split():
    a = [assign_arm("s1", u, ["c", "t"], [1, 1]) for u in UNITS]
    b = [assign_arm("s2", u, ["c", "t"], [1, 1]) for u in UNITS]
    assert a != b


def _documented_arm(salt: str, unit: str, names, weights) -> str:
    """The documented rule, written out independently: sha256(salt:unit), first 8 bytes
    big-endian / 2**64, cut by the cumulative shares of the weights (exact fractions here)."""
    from fractions import Fraction

    u = Fraction(int.from_bytes(hashlib.sha256(f"{salt}:{unit}".encode()).digest()[:8], "big"), 2**64)
    total = sum(Fraction(w) for w in weights)
    cumulative = Fraction(0)
    for name, weight in zip(names, weights, strict=True):
        cumulative += Fraction(weight) / total
        if u < cumulative:
            return name
    return names[-1]


@pytest.mark.parametrize("weights", [[1, 1], [1, 3], [2, 1, 1]])
def test_assign_arm_follows_the_documented_hash_rule(weights):
    names = [f"arm{i}" for i in range(len(weights))]
    for i in range(2000):
        assert assign_arm("documented", f"unit-{i}", names, weights) == _documented_arm("documented", f"unit-{i}", names, weights)


@pytest.mark.django_db
def test_assign_endpoint_is_stable_and_writes_nothing(api, make_experiment, django_assert_num_queries):
    exp = make_experiment("welch_t")
    client = api("dana")
    client.get("/api/v1/me/")  # warm the token
    answers = []
    for unit in ("alice", "bob", "carol", "alice"):
        # token with its user and roles (one query); the experiment; its arms; their versions —
        # reads only
        with django_assert_num_queries(4) as ctx:
            r = client.get(f"/api/v1/experiments/{exp.pk}/assign/", {"unit": unit})
        assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in ctx.captured_queries)
        assert r.status_code == 200
        assert r.json()["arm"] == _documented_arm(exp.salt, unit, ["control", "treatment"], [1.0, 1.0])
        answers.append(r.json()["arm"])
    assert answers[0] == answers[3]
    assert Event.objects.count() == 0
    assert client.get(f"/api/v1/experiments/{exp.pk}/assign/").status_code == 400
