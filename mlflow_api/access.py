"""Who may change what through the MLflow protocol: the registry's own rules (`registry.access`),
with the protocol's wording."""

from registry import access as registry_access
from registry.models import RegisteredModel


def require_write(actor, model: RegisteredModel) -> None:
    registry_access.require(
        registry_access.model_can_write(actor, model), "You may change only models you own or of your use cases."
    )

