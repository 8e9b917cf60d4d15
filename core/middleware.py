"""The API answers JSON, whatever goes wrong and wherever.

DRF views render their own errors (`core.api.exception_handler`). This middleware covers the
rest under `/api/`: exceptions that escape a view or a view-level middleware (an oversized body read
before DRF parses it, the database gone during authentication or a session save), and Django's own
HTML error pages (an unknown URL, a CSRF failure, a 400 from a suspicious request). The portal's
HTML pages keep HTML error pages.
"""

import sys

from django.core.signals import got_request_exception
from django.http import JsonResponse

from .api import error_body, special_error, unexpected_error

API_PREFIX = "/api/"

_CODES = {
    400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "throttled", 503: "unavailable",
}


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _json(request, status_code, code, detail, headers=None, logged=False):
    response = JsonResponse(error_body(request, status_code, code, detail), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    response._has_been_logged = logged
    return response


def _remember_exception(sender, request=None, **kwargs):
    # Django calls this while handling an exception that escaped a middleware (before it renders
    # its HTML 500): keep the exception so ApiErrorMiddleware can classify it (503 vs 500).
    if request is not None and is_api(request):
        request.steward_exception = sys.exc_info()[1]


got_request_exception.connect(_remember_exception, dispatch_uid="steward-api-exception")


class ApiErrorMiddleware:
    """Turns every error under /api/ into the JSON error shape (with the request id)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not is_api(request) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        exc = getattr(request, "steward_exception", None)
        if exc is not None:
            # Django has already logged it (once, with the traceback).
            special = special_error(exc)
            if special is not None:
                status_code, code, detail, headers = special
                return _json(request, status_code, code, detail, headers, logged=True)
        status_code = response.status_code
        detail = {
            404: "Not found.",
            403: "Permission denied (for a browser session: CSRF check failed).",
            500: "Something went wrong on our side; quote the request id when reporting it.",
        }.get(status_code, response.reason_phrase or "Error.")
        headers = {h: response[h] for h in ("Retry-After", "Allow", "WWW-Authenticate") if h in response}
        logged = getattr(response, "_has_been_logged", False)
        return _json(request, status_code, _CODES.get(status_code, "error"), detail, headers, logged)

    def process_exception(self, request, exception):
        """Exceptions a view raised (DRF re-raises what its handler does not render)."""
        if not is_api(request):
            return None
        special = special_error(exception)
        if special is not None:
            status_code, code, detail, headers = special
            return _json(request, status_code, code, detail, headers, logged=status_code >= 500)
        status_code, code, detail, headers = unexpected_error(exception, request)
        return _json(request, status_code, code, detail, headers, logged=True)
