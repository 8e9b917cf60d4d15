"""How the MLflow client authenticates: `MLFLOW_TRACKING_TOKEN` is sent as `Bearer <token>`;
`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` as HTTP Basic. Both map to a Steward user:
the bearer token and a Basic password are first tried as that user's Steward API token, and a
Basic password may also be the account password (through Django's backends, so django-axes
lockouts apply)."""

import base64
import binascii

from django.contrib.auth import authenticate
from rest_framework import authentication, exceptions

from core.authentication import user_for_token


def _active(request, user, token):
    # The token's scope is checked by MlflowPermission, which knows a read sent as POST.
    if not user.is_active:
        raise exceptions.AuthenticationFailed("User inactive or deleted.")
    return user, token


class MlflowAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None
        scheme = header[0].lower()
        if scheme not in (b"bearer", b"basic") or len(header) != 2:
            return None
        try:
            credential = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid credentials.") from None
        if scheme == b"bearer":
            user, token = user_for_token(credential)
            if token is None:
                raise exceptions.AuthenticationFailed("Invalid or revoked token.")
            return _active(request, user, token)
        try:
            username, _, password = base64.b64decode(credential).decode().partition(":")
        except (binascii.Error, UnicodeError):
            raise exceptions.AuthenticationFailed("Invalid basic credentials.") from None
        user, token = user_for_token(password)
        if token is not None and user.get_username() == username:
            return _active(request, user, token)
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid username, token or password.")
        return _active(request, user, None)

    def authenticate_header(self, request):
        return 'Basic realm="steward"'
