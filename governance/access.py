"""Who may do what in governance. Services call these; nothing else decides."""

from core.roles import Role, has_role, is_admin
from registry import access as registry_access


def can_edit_policy(user) -> bool:
    """Scoring schemes and the policy matrix belong to risk officers (and admins)."""
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)


def can_classify(user, use_case) -> bool:
    return registry_access.use_case_can_write(user, use_case)


def can_override(user) -> bool:
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)


def can_edit_raci(user, use_case) -> bool:
    return registry_access.use_case_can_write(user, use_case)


def can_request_promotion(user, version) -> bool:
    return registry_access.model_can_write(user, version.model)


def can_accept_model(user, use_case) -> bool:
    """Who signs model acceptance (an experiment's decision, and the promotion request an
    "adopt" decision opens in their name): the people the use case's RACI holds Accountable for
    model acceptance; when it names nobody, risk officers and administrators."""
    from .models import RaciMatrix

    try:
        named = use_case.raci.people_for("model_acceptance", {"A"})
    except RaciMatrix.DoesNotExist:
        named = set()
    if named:
        return user.pk in named
    return has_role(user, Role.RISK_OFFICER) or is_admin(user)


def can_withdraw(user, promotion) -> bool:
    return user.pk == promotion.requester_id or is_admin(user)


def can_review(user) -> bool:
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)
