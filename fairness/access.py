"""Who may do what with bias reports. Services call these; nothing else decides."""

from core.roles import Role, has_role, is_admin
from registry.access import model_can_write


def can_submit(user, version) -> bool:
    """The version's owners (data scientists owning the model or its use case) and admins upload
    evaluation sets and ask for reports; risk officers and auditors read them."""
    return model_can_write(user, version.model)


def can_set_attributes(user, use_case, *, removes: bool) -> bool:
    """The attributes decide what a report must cover. A risk officer who does not own the use
    case (or an admin) sets them; its owner may only add (stricter needs nobody's protection)."""
    if is_admin(user):
        return True
    if has_role(user, Role.RISK_OFFICER) and use_case.owner_id != user.pk:
        return True
    return not removes and has_role(user, Role.DATA_SCIENTIST) and use_case.owner_id == user.pk
