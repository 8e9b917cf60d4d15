"""API rate limits (DRF throttles): per token for scripts, per address for anonymous callers
and for wrong tokens (someone guessing keys).

Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (`API_THROTTLE_TOKEN`,
`API_THROTTLE_ANON`), read when a request is checked, so a changed setting applies at once.
Over the limit the API answers 429 in the JSON error shape, with `Retry-After`.

How requests are counted: a sliding-window counter, not DRF's request history. DRF's
`SimpleRateThrottle` keeps every request's time in the window as one cache value and reads,
edits and writes the whole list back on each request: at 3,000 requests a minute that is a
3,000-item list pickled twice per request (and sent to Redis and back when `CACHE_URL` is set).
Here each window of the rate's period has one integer counter (`cache.add` / `cache.incr`,
atomic in Redis and under LocMemCache's lock), and the number of requests "in the last period"
is estimated as this window's count plus the previous window's count weighted by how much of
it still lies inside the period (the sliding-window counter). Traffic spread over the window is
counted as DRF would count it; a burst timed at the very end of one window is counted in the
next at the share of it still inside the period, so such traffic can get at most twice the
limit through in one period (DRF's check, a `get` then a `set`, lets concurrent requests past
it as well).
"""

from django.core.cache import cache as default_cache
from rest_framework import throttling
from rest_framework.settings import api_settings

from .models import ApiToken


class WindowCounterThrottle(throttling.BaseThrottle):
    """Sliding-window counter over the rate of `scope`; subclasses say who is counted."""

    cache = default_cache
    timer = throttling.SimpleRateThrottle.timer
    cache_format = "throttle_%(scope)s_%(ident)s"
    scope: str = ""
    parse_rate = throttling.SimpleRateThrottle.parse_rate

    def get_cache_key(self, request, view) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.limit, self.period = self.parse_rate(rate)
        now = self.timer()
        window, into = divmod(now, self.period)
        current, previous = f"{key}:{int(window)}", f"{key}:{int(window) - 1}"
        counts = self.cache.get_many([current, previous])
        self.current, self.previous = counts.get(current, 0), counts.get(previous, 0)
        self.fraction = into / self.period  # how far into the current window we are
        if self.previous * (1 - self.fraction) + self.current >= self.limit:
            return False
        if not self.cache.add(current, 1, timeout=2 * self.period):
            try:
                self.cache.incr(current)
            except ValueError:  # expired between add and incr
                self.cache.add(current, 1, timeout=2 * self.period)
        return True

    def wait(self) -> float:
        """Seconds until the estimate is under the limit again (for Retry-After; at least 1)."""
        if self.current >= self.limit:
            # This window alone is full. In the next one it is the previous window, and its
            # weight (1 − f) must fall until current·(1 − f) < limit.
            share = max(1 - self.limit / self.current, 0) if self.current else 0  # a limit of 0: a window
            seconds = (1 - self.fraction + share) * self.period
        else:
            # The previous window's weight must fall until previous·(1 − f) + current < limit.
            needed = 1 - (self.limit - self.current) / self.previous
            seconds = max(needed - self.fraction, 0) * self.period
        return max(seconds + 1e-3, 1.0)  # just past the boundary, where the estimate is under


class TokenRateThrottle(WindowCounterThrottle):
    """Requests authenticated by an API token, counted per token."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None  # session users (the portal) and anonymous callers: not this throttle
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class AnonRateThrottle(WindowCounterThrottle):
    """Requests with no credentials, counted per client address."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None  # only unauthenticated requests
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class BadTokenThrottle(AnonRateThrottle):
    """Wrong or revoked tokens, counted per client address at the anonymous rate.

    DRF checks throttles after authentication and permissions, so a request with a wrong token
    (401) never reaches them; `core.authentication` consults this one when a key is refused.
    """

    cache_format = "throttle_badtoken_%(ident)s"

    def get_cache_key(self, request, view):
        return self.cache_format % {"ident": self.get_ident(request)}
