"""Who may approve a move, and what each approval counts for — decided here and nowhere else.

A promotion's policy version names approval requirements (`{"gate": "approvals", "params":
{"role": R, "count": N}}`); each becomes N *slots* that need someone who can fill role R:

- `any`: anyone holding a role that may approve (data scientist, risk officer, administrator);
- a Steward role (`risk_officer`, `data_scientist`, `admin`): someone holding that role —
  an administrator does not count as a risk officer;
- `accountable`: the person the use case's RACI makes Accountable (A or A/R) for the move's task.

One person fills one slot: "2 risk officers + 1 accountable" needs three people. Approvals are
assigned to slots by a maximum bipartite matching (an Accountable risk officer fills whichever
slot leaves the others fillable). What an approval can fill is fixed when it is given (stored on
the sign-off as `approver_roles`), so a later role or RACI change does not re-judge it.

The requester and the version's creator never sign; an auditor (or someone with no role) never
signs, whatever a RACI says. `capacities()` is what the checklist, signing, notifications and
the portal's buttons all ask.
"""

from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Q
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from core.errors import Forbidden
from core.roles import Role, user_roles

from . import defaults
from .models import SignOff
from .selectors import measures, raci_for

# Steward roles whose holders may approve at all.
APPROVING_ROLES = (Role.DATA_SCIENTIST, Role.RISK_OFFICER, Role.ADMIN)
# What a policy's approvals measure may ask for.
SLOT_ROLES = ("any", "accountable", *APPROVING_ROLES)
# People's words for each, used by the policy text, the checklist and the sign-off page.
SLOT_LABELS = {
    "any": "anyone who may approve",
    "accountable": "the Accountable person (RACI)",
    Role.DATA_SCIENTIST: "data scientist",
    Role.RISK_OFFICER: "risk officer",
    Role.ADMIN: "administrator",
}
SLOT_LABELS_PLURAL = {
    "any": "people who may approve",
    "accountable": "the Accountable person (RACI)",
    Role.DATA_SCIENTIST: "data scientists",
    Role.RISK_OFFICER: "risk officers",
    Role.ADMIN: "administrators",
}


STAGE_WORDS = {"qa": "QA", "preproduction": "pre-production", "production": "production", "archived": "archive"}


@dataclass
class Slot:
    """One approval a move needs: the role it asks for, who filled it, who could."""

    role: str
    label: str
    filled_by: object = None  # the approving user, once filled
    candidates: list = field(default_factory=list)  # users who could fill it (when open)

    @property
    def filled(self) -> bool:
        return self.filled_by is not None


def requirements(promotion) -> dict[str, int]:
    """{slot role: count} the promotion's policy version asks for on this move.

    Two measures naming the same role ask for the larger count, not the sum (a tier's "1 risk
    officer for preproduction and production" and "2 risk officers for production" mean two on
    the way to production). Every move needs at least one approval.
    """
    need: dict[str, int] = {}
    for measure in measures(promotion):
        if measure["gate"] != "approvals":
            continue
        params = measure.get("params") or {}
        role, count = params.get("role", "any"), int(params.get("count", 1))
        need[role] = max(need.get(role, 0), count)
    return need or {"any": 1}


def _task(promotion) -> str:
    return defaults.STAGE_TASK[promotion.target_stage]


def accountable_ids(promotion) -> set[int]:
    return raci_for(use_case=promotion.version.model.use_case).people_for(_task(promotion), {"A"})


def capacities(promotion, user, *, accountable: set[int] | None = None) -> set[str]:
    """The slot roles this person's approval could fill on this move (empty: may not sign).

    Separation of duties and read-only roles come first: the requester, the version's creator,
    auditors and people without a role can fill nothing.
    """
    if not getattr(user, "is_authenticated", False):
        return set()
    if user.pk in (promotion.requester_id, promotion.version.created_by_id):
        return set()
    roles = user_roles(user) & set(APPROVING_ROLES)
    if not roles:
        return set()
    result = {"any", *roles}
    if accountable is None:
        accountable = accountable_ids(promotion)
    if user.pk in accountable:
        result.add("accountable")
    return result


def _match(slot_roles: list[str], approvals: list[set[str]]) -> list[int]:
    """For each slot, the index of the approval filling it (-1: open), by maximum matching."""
    if not slot_roles or not approvals:
        return [-1] * len(slot_roles)
    rows, cols = [], []
    for i, role in enumerate(slot_roles):
        for j, caps in enumerate(approvals):
            if role in caps:
                rows.append(i)
                cols.append(j)
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(slot_roles), len(approvals)))
    return [int(j) for j in maximum_bipartite_matching(graph, perm_type="column")]


def _valid_approvals(promotion) -> list:
    return [
        s for s in promotion.signoffs.all()
        if s.decision == SignOff.Decision.APPROVE and s.lapsed_at is None
    ]


def _slot_roles(need: dict[str, int]) -> list[str]:
    # The most specific roles first, so a display of open slots reads naturally.
    order = {r: i for i, r in enumerate(("accountable", Role.RISK_OFFICER, Role.ADMIN, Role.DATA_SCIENTIST, "any"))}
    return [role for role in sorted(need, key=lambda r: order.get(r, 99)) for _ in range(need[role])]


def slots(promotion, *, with_candidates: bool = True) -> list[Slot]:
    """Every slot of the move, filled ones with their approver, open ones with the people who
    could fill them (active users, not the requester or creator, not already signed)."""
    need = requirements(promotion)
    roles = _slot_roles(need)
    approvals = _valid_approvals(promotion)
    matched = _match(roles, [set(s.approver_roles) for s in approvals])
    result = [
        Slot(role=r, label=SLOT_LABELS.get(r, r), filled_by=approvals[j].approver if j >= 0 else None)
        for r, j in zip(roles, matched, strict=True)
    ]
    if with_candidates and any(not s.filled for s in result):
        people = _candidates(promotion, {s.role for s in result if not s.filled})
        for slot in result:
            if not slot.filled:
                slot.candidates = people.get(slot.role, [])
    return result


def filled_counts(promotion) -> dict[str, tuple[int, int]]:
    """{slot role: (filled, needed)} — what the approvals gate reports."""
    counts: dict[str, list[int]] = {}
    for slot in slots(promotion, with_candidates=False):
        entry = counts.setdefault(slot.role, [0, 0])
        entry[0] += slot.filled
        entry[1] += 1
    return {role: (got, need) for role, (got, need) in counts.items()}


def _candidates(promotion, open_roles: set[str]) -> dict[str, list]:
    """{slot role: [users]} who could fill an open slot of that role now."""
    User = get_user_model()
    accountable = accountable_ids(promotion)
    signed = {s.approver_id for s in promotion.signoffs.all()}
    excluded = {promotion.requester_id, promotion.version.created_by_id, *signed}
    people = (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=APPROVING_ROLES) | Q(is_superuser=True))
        .exclude(pk__in=excluded)
        .distinct()
        .order_by("username")
        .prefetch_related("groups")
    )
    result: dict[str, list] = {role: [] for role in open_roles}
    for user in people:
        user._steward_roles = {g.name for g in user.groups.all()} & set(Role.values) | (
            {Role.ADMIN} if user.is_superuser else set()
        )
        caps = capacities(promotion, user, accountable=accountable)
        for role in open_roles & caps:
            result[role].append(user)
    return result


def approver_candidates(promotion) -> list:
    """Everyone who could fill one of the move's open slots (whom to notify)."""
    seen = {}
    for slot in slots(promotion):
        for user in slot.candidates:
            seen[user.pk] = user
    return list(seen.values())


def _refusal(promotion, user, caps: set[str]) -> str:
    if not getattr(user, "is_authenticated", False) or not (user_roles(user) & set(APPROVING_ROLES)):
        return "Your role does not sign off promotions (auditors read; they do not approve)."
    if user.pk == promotion.requester_id:
        return "You requested this promotion; separation of duties means someone else must sign it off."
    if user.pk == promotion.version.created_by_id:
        return "You created this model version; separation of duties means someone else must sign it off."
    open_labels = sorted({s.label for s in slots(promotion, with_candidates=False) if not s.filled})
    if not open_labels:
        return "Every approval this move needs is already given."
    return "The approvals still needed are from " + " and ".join(open_labels) + "; your approval would fill none of them."


def may_approve(promotion, user) -> tuple[bool, str, set[str]]:
    """(allowed, reason if not, capacities): allowed when the approval fills an open slot
    (the matching grows with it), so one person never fills two slots."""
    caps = capacities(promotion, user)
    if caps:
        need = requirements(promotion)
        roles = _slot_roles(need)
        current = [set(s.approver_roles) for s in _valid_approvals(promotion)]
        before = sum(j >= 0 for j in _match(roles, current))
        after = sum(j >= 0 for j in _match(roles, [*current, caps]))
        if after > before:
            return True, "", caps
    return False, _refusal(promotion, user, caps), caps


def may_reject(promotion, user) -> tuple[bool, str, set[str]]:
    """Anyone who could fill one of the move's slots (filled or not) may reject it."""
    caps = capacities(promotion, user)
    if caps & set(requirements(promotion)):
        return True, "", caps
    if caps:
        labels = sorted(SLOT_LABELS.get(r, r) for r in requirements(promotion))
        return False, "This move is signed by " + " and ".join(labels) + "; you are not one of them.", caps
    return False, _refusal(promotion, user, caps), caps


def completes(promotion, user) -> bool:
    """Would this person's approval fill the last open slot?"""
    ok, _, caps = may_approve(promotion, user)
    if not ok:
        return False
    roles = _slot_roles(requirements(promotion))
    current = [set(s.approver_roles) for s in _valid_approvals(promotion)]
    return sum(j >= 0 for j in _match(roles, [*current, caps])) == len(roles)


def require_may_approve(promotion, user) -> set[str]:
    ok, reason, caps = may_approve(promotion, user)
    if not ok:
        raise Forbidden(reason)
    return caps


def require_may_reject(promotion, user) -> set[str]:
    ok, reason, caps = may_reject(promotion, user)
    if not ok:
        raise Forbidden(reason)
    return caps


def describe(role: str, count: int, stages: list[str] | None = None) -> str:
    """The text of an approvals measure, generated from its structured form."""
    who = SLOT_LABELS.get(role, role) if count == 1 else SLOT_LABELS_PLURAL.get(role, role)
    if role == "accountable":
        text = "Approval by the Accountable person (RACI)" if count == 1 else f"{count} approvals by the Accountable person (RACI)"
    elif role == "any":
        text = "1 approval" if count == 1 else f"{count} approvals from different people"
    else:
        article = ("an " if who[0] in "aeiou" else "a ") if count == 1 else ""
        text = f"{count} approval{'s' if count != 1 else ''} from {article}{who}"
    if stages:
        text += " for " + ", ".join(STAGE_WORDS.get(s, s) for s in stages)
    return text
