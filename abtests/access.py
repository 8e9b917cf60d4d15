"""Who may do what with experiments. The services call these; nothing else decides."""

from core.errors import Forbidden
from core.roles import Role, has_role, is_admin
from governance.access import can_accept_model
from registry.access import model_can_write

from .models import Experiment


def can_run(user, experiment_or_model) -> bool:
    """Who designs, starts, feeds and analyses an experiment: those who may write its model."""
    model = getattr(experiment_or_model, "model", experiment_or_model)
    return model_can_write(user, model)


def can_decide(user, experiment: Experiment | None = None) -> bool:
    """The RACI's Accountable people for model acceptance sign decisions; when the RACI names
    nobody (no one assigned yet), risk officers and administrators do (governance's rule)."""
    if experiment is None:
        return has_role(user, Role.RISK_OFFICER) or is_admin(user)
    return can_accept_model(user, experiment.model.use_case)


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise Forbidden(message)
