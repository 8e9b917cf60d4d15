"""Gates: machine-checkable measures of a governance policy, as a registry of checks.

A policy measure names a gate by key with parameters, e.g.
`{"gate": "approvals", "params": {"role": "risk_officer", "count": 2}}`. Other apps (abtests,
monitoring) register their own gates in their `AppConfig.ready()` without governance importing
them::

    from governance.gates import GateResult, register_gate

    @register_gate("ab_result_in_favour", label="A/B or shadow result in favour of this version")
    def ab_result_in_favour(*, version, promotion, params) -> GateResult:
        ...

A check must be a pure read: it may run many times (every time a checklist is shown).

A gate registered with `blocking=True` is a **blocker**: it applies to every move except to
archive, whatever the policy lists (privacy's open overdue obligations), and no gate exception
waives it. Governance asks every registered blocker without knowing which app registered it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateResult:
    met: bool
    detail: str
    evidence_url: str = ""
    # Gates that only a human can satisfy (approvals) say so; the workflow counts them separately.
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Gate:
    key: str
    label: str
    description: str
    check: Callable[..., GateResult]
    blocking: bool = False


_GATES: dict[str, Gate] = {}


def register_gate(key: str, *, label: str, description: str = "", blocking: bool = False):
    def decorator(func):
        if key in _GATES and _GATES[key].check is not func:
            raise ValueError(f"gate {key!r} is already registered")
        _GATES[key] = Gate(key=key, label=label, description=description or (func.__doc__ or "").strip(), check=func,
                           blocking=blocking)
        return func

    return decorator


def get_gate(key: str) -> Gate | None:
    return _GATES.get(key)


def all_gates() -> dict[str, Gate]:
    return dict(_GATES)


def blockers() -> list[Gate]:
    """Gates checked on every move but archiving, listed in the policy or not (see above)."""
    return [gate for gate in _GATES.values() if gate.blocking]


def evaluate_gate(key: str, *, version, promotion=None, params: dict | None = None) -> GateResult:
    gate = get_gate(key)
    if gate is None:
        # A policy may name a gate whose app is not installed yet: it cannot be met automatically.
        return GateResult(False, f"No check is installed for gate '{key}'.")
    return gate.check(version=version, promotion=promotion, params=params or {})
