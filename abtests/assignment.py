"""Deterministic arm assignment by salted hashing. Pure: no Django, no database.

`sha256(f"{salt}:{unit}")`, first 8 bytes read big-endian as an integer divided by 2**64, gives a
number uniform in [0, 1); the arm is the first whose cumulative share of the allocation weights
exceeds it. The same salt, unit and allocation give the same arm in every process and on every
machine. Random-per-request designs hash the request id the same way (each request is its own
unit), so they need no random state either.
"""

import hashlib
from collections.abc import Sequence


def unit_uniform(salt: str, unit: str) -> float:
    digest = hashlib.sha256(f"{salt}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arm(salt: str, unit: str, names: Sequence[str], weights: Sequence[float]) -> str:
    if not names or len(names) != len(weights):
        raise ValueError("need one weight per arm")
    total = float(sum(weights))
    u = unit_uniform(salt, unit) * total
    cumulative = 0.0
    for name, weight in zip(names, weights, strict=True):
        cumulative += weight
        if u < cumulative:
            return name
    return names[-1]  # u * total rounded up to exactly total
