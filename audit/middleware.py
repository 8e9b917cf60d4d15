import re

from .context import audit_context, new_request_id

# A client may name its own request id (to find its trail later); we accept sane tokens only.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContextMiddleware:
    """Gives every request an id (client's `X-Request-ID` if sane) and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _VALID_REQUEST_ID.match(given) else new_request_id()
        request.request_id = request_id
        with audit_context(request_id=request_id, source_ip=request.META.get("REMOTE_ADDR")):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
