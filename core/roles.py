"""The four roles, as Django groups created by a migration."""

from django.db.models import TextChoices


class Role(TextChoices):
    DATA_SCIENTIST = "data_scientist", "Data scientist"
    RISK_OFFICER = "risk_officer", "Risk officer"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Administrator"


def user_roles(user) -> set[str]:
    """Role names of a user, cached on the instance for the request."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_steward_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) & set(Role.values)
        if user.is_superuser:
            cached.add(Role.ADMIN)
        user._steward_roles = cached
    return cached


def is_steward_user(user) -> bool:
    """Whether a user may use Steward at all: signed in and holding a role. The API's permission
    funnel (`core.permissions.IsStewardUser`) and the portal (`portal.middleware`) both ask this;
    a signed-in account without a role sees only who it is and its own tokens (`/api/v1/me/`)."""
    return bool(getattr(user, "is_authenticated", False) and user_roles(user))


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def is_admin(user) -> bool:
    return has_role(user, Role.ADMIN)


def is_read_only(user) -> bool:
    """Auditors read everything and write nothing (unless they also hold a writing role)."""
    roles = user_roles(user)
    return not roles or roles == {Role.AUDITOR}
