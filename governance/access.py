"""Who may do what in governance. Services call these; the portal asks the same functions which
buttons to show; nothing else decides.

Approving and rejecting a move is decided by `governance.approvals` (who fills which slot).
The four-eyes rules on governance data (classification, RACI, model moves) are here:
`applies_directly` says whether a change takes effect at once or waits as a proposal, and
`can_decide_proposal` who may confirm or reject it.
"""

from core.roles import Role, has_role, is_admin, is_read_only
from registry import access as registry_access

from .models import RaciMatrix


def can_edit_policy(user) -> bool:
    """Scoring schemes and the policy matrix belong to risk officers (and admins)."""
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)


def can_classify(user, use_case) -> bool:
    """Propose (owner) or set (risk officer) a use case's classification."""
    return registry_access.use_case_can_write(user, use_case)


def can_override(user) -> bool:
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)


def can_edit_raci(user, use_case) -> bool:
    return registry_access.use_case_can_write(user, use_case)


def is_governor(user) -> bool:
    """Risk officers govern; the people they govern (data scientists, owners) propose."""
    return has_role(user, Role.RISK_OFFICER)


def applies_directly(user, use_case) -> bool:
    """A change of this use case's governance data by `user` takes effect at once only when a
    risk officer who does not own the use case makes it; anyone else's change is a proposal."""
    return is_governor(user) and use_case.owner_id != user.pk


def can_decide_proposal(user, proposal) -> bool:
    """A risk officer other than the proposer, owning none of the use cases involved."""
    if not is_governor(user) or user.pk == proposal.proposed_by_id:
        return False
    owners = {proposal.use_case.owner_id}
    if proposal.target_use_case_id:
        owners.add(proposal.target_use_case.owner_id)
    if proposal.model_id:
        owners.add(proposal.model.owner_id)
    return user.pk not in owners


def can_withdraw_proposal(user, proposal) -> bool:
    return user.pk == proposal.proposed_by_id


def can_grant_exception(user) -> bool:
    """Only risk officers grant (or revoke) exceptions to a gate; the governed never do."""
    return is_governor(user)


def can_request_promotion(user, version) -> bool:
    return registry_access.model_can_write(user, version.model)


def can_accept_model(user, use_case) -> bool:
    """Who signs model acceptance (an experiment's decision, and the promotion request an
    "adopt" decision opens in their name): the people the use case's RACI holds Accountable for
    model acceptance; when it names nobody, risk officers and administrators."""
    try:
        named = use_case.raci.people_for("model_acceptance", {"A"})
    except RaciMatrix.DoesNotExist:
        named = set()
    if named:
        return user.pk in named
    return has_role(user, Role.RISK_OFFICER) or is_admin(user)


def can_withdraw(user, promotion) -> bool:
    return user.pk == promotion.requester_id or is_admin(user)


def can_complete(user, promotion) -> bool:
    return not is_read_only(user) and (
        registry_access.model_can_write(user, promotion.version.model) or has_role(user, Role.RISK_OFFICER)
    )


def can_review(user) -> bool:
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)


def can_edit_model_card(user, version) -> bool:
    return registry_access.model_can_write(user, version.model)
