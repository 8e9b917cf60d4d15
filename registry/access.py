"""Who may change what in the inventory. Services call these; nothing else decides."""

from core.errors import Forbidden
from core.roles import Role, has_role, is_admin


def can_register(user) -> bool:
    return has_role(user, Role.DATA_SCIENTIST, Role.ADMIN)


def use_case_can_create(user) -> bool:
    return has_role(user, Role.DATA_SCIENTIST, Role.RISK_OFFICER, Role.ADMIN)


def use_case_can_write(user, use_case) -> bool:
    return is_admin(user) or has_role(user, Role.RISK_OFFICER) or (
        has_role(user, Role.DATA_SCIENTIST) and use_case.owner_id == user.pk
    )


def use_case_can_clear_automated(user) -> bool:
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)


def use_case_can_attach(user, use_case) -> bool:
    """A model is registered in a use case its registrant owns (or by an admin); attaching one
    to somebody else's use case is a move a risk officer confirms."""
    return is_admin(user) or use_case.owner_id == user.pk


def model_can_write(user, model) -> bool:
    """Data scientists write models they own or that belong to use cases they own."""
    if is_admin(user):
        return True
    return has_role(user, Role.DATA_SCIENTIST) and user.pk in (model.owner_id, model.use_case.owner_id)


def dataset_can_write(user, dataset) -> bool:
    return is_admin(user) or (has_role(user, Role.DATA_SCIENTIST) and dataset.owner_id == user.pk)


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise Forbidden(message)
