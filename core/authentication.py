from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken
from .roles import Role


def _role_flags() -> dict:
    """One EXISTS per role, so the token, its user and the user's roles come in one query."""
    memberships = Group.user_set.through.objects.filter(user_id=OuterRef("user_id"))
    return {f"_role_{role}": Exists(memberships.filter(group__name=role)) for role in Role.values}


def user_for_token(key: str):
    """The active user of an unrevoked token, with its roles already cached (see
    `core.roles.user_roles`), in one query; None when the key is unknown or revoked."""
    token = (
        ApiToken.objects.select_related("user").annotate(**_role_flags())
        .filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True).first()
    )
    if token is None:
        return None, None
    roles = {role for role in Role.values if getattr(token, f"_role_{role}")}
    if token.user.is_superuser:
        roles.add(Role.ADMIN)
    token.user._steward_roles = roles
    now = timezone.now()
    # Write at most once a minute per token: a busy script should not hammer this row.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, token


class HashedTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, looked up by the key's SHA-256."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        user, token = user_for_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, token
