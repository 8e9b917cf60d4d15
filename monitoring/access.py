"""Who may do what in monitoring. Services call these; nothing else decides.

The governed never govern themselves: the model's data scientists feed monitoring (reference
before production, production batches, labels, schedule) but cannot loosen what judges their
model (tests, thresholds, drift share), swap the reference of a version in production, switch
its schedule off, or close an alert raised on it.
"""

from core.roles import Role, has_role, is_admin
from registry import access as registry_access
from registry.models import Stage


def _is_governed(user, version) -> bool:
    model = version.model
    return user.pk in (model.owner_id, model.use_case.owner_id, version.created_by_id)


def can_feed(user, version) -> bool:
    """Upload production batches and labels, ask for a check."""
    return registry_access.model_can_write(user, version.model) or has_role(user, Role.RISK_OFFICER)


def can_set_reference(user, version) -> bool:
    if is_admin(user):
        return True
    return version.stage != Stage.PRODUCTION and registry_access.model_can_write(user, version.model)


def can_configure_tests(user) -> bool:
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)


def can_set_schedule(user, version, *, removing: bool) -> bool:
    if has_role(user, Role.RISK_OFFICER, Role.ADMIN):
        return True
    if removing and version.stage == Stage.PRODUCTION:
        return False
    return registry_access.model_can_write(user, version.model)


def can_acknowledge(user, version) -> bool:
    return can_feed(user, version) or is_admin(user)


def can_close(user, version) -> bool:
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN) and (is_admin(user) or not _is_governed(user, version))
