from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken


class HashedTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, looked up by the key's SHA-256."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        try:
            token = ApiToken.objects.select_related("user").get(
                key_hash=ApiToken.hash_key(key), revoked_at__isnull=True
            )
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        # Write at most once a minute per token: a busy script should not hammer this row.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
