"""API rate limits (DRF throttles): per token for scripts, per address for anonymous callers
and for wrong tokens (someone guessing keys).

Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (`API_THROTTLE_TOKEN`,
`API_THROTTLE_ANON`), read when a request is checked, so a changed setting applies at once.
Over the limit the API answers 429 in the JSON error shape, with `Retry-After`.
"""

from rest_framework import throttling
from rest_framework.settings import api_settings

from .models import ApiToken


class _RatesFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class TokenRateThrottle(_RatesFromSettings, throttling.SimpleRateThrottle):
    """Requests authenticated by an API token, counted per token."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None  # session users (the portal) and anonymous callers: not this throttle
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class AnonRateThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    """Requests with no credentials, counted per client address."""


class BadTokenThrottle(AnonRateThrottle):
    """Wrong or revoked tokens, counted per client address at the anonymous rate.

    DRF checks throttles after authentication and permissions, so a request with a wrong token
    (401) never reaches them; `core.authentication` consults this one when a key is refused.
    """

    scope = "anon"
    cache_format = "throttle_badtoken_%(ident)s"

    def get_cache_key(self, request, view):
        return self.cache_format % {"ident": self.get_ident(request)}
