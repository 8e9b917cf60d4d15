from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS

from .models import ApiToken
from .roles import is_read_only


class ReadOnlyToken(exceptions.PermissionDenied):
    default_detail = "This API token is read-only (scope: read); it cannot change anything."
    default_code = "read_only_token"


class HashedTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, looked up by the key's SHA-256.

    The token's scope is enforced here, where every token request passes whatever view and
    permission classes it reaches: a read token (or any token of a read-only user) gets 403 for
    every method but GET, HEAD and OPTIONS.
    """

    keyword = "Token"

    def authenticate(self, request):
        try:
            result = super().authenticate(request)
        except exceptions.AuthenticationFailed:
            from .throttling import BadTokenThrottle

            throttle = BadTokenThrottle()
            if not throttle.allow_request(request, None):
                raise exceptions.Throttled(wait=throttle.wait()) from None
            raise
        if result is not None and request.method not in SAFE_METHODS:
            user, token = result
            if is_read_only(user):  # what the permission funnel says to auditors, said earlier
                refused = exceptions.PermissionDenied("Auditors have read-only access.")
            elif token.scope != ApiToken.Scope.WRITE:
                refused = ReadOnlyToken()
            else:
                return result
            # DRF forgets the user when authentication raises; the refusal is still theirs to
            # be audited (core.api's exception handler reads it).
            refused.actor = user
            raise refused
        return result

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
