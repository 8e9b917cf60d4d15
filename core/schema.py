"""The OpenAPI schema's error responses, declared in one place for every operation.

Views declare their success responses (and may describe an error more precisely, e.g. a 404
"Not classified yet"); this schema class adds the statuses any operation can answer, all with
the error shape (`core.serializers.ErrorSerializer`) as JSON, so schema-driven clients and the
fuzz tests (tests/hardening/test_fuzz.py) hold the API to what is documented.
"""

from drf_spectacular import openapi

from .serializers import ErrorSerializer

ERRORS = {
    "400": "Invalid input: `errors` names the field (or query parameter) and what is wrong.",
    "401": "Not signed in (no or an unknown API token).",
    "403": "Signed in but not allowed (no role, an auditor writing, someone else's object).",
    "404": "No such object (or page).",
    "406": "The `Accept` header asks for a representation this operation does not offer.",
    "409": "Conflicts with stored data (a duplicate name, a state that does not allow it).",
    "413": "The body is too large (DATA_UPLOAD_MAX_MEMORY_SIZE, ARTIFACT_MAX_BYTES).",
    "415": "Unsupported media type for the body.",
    "429": "Too many requests; wait for `Retry-After` seconds.",
    "500": "A fault on our side; quote `request_id` when reporting it.",
    "503": "The database is unavailable; retry after `Retry-After` seconds.",
}
READ_ERRORS = ["400", "401", "403", "404", "406", "429", "500", "503"]
WRITE_ERRORS = READ_ERRORS + ["409", "413", "415"]
RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = READ_ERRORS if self.method in ("GET", "HEAD", "OPTIONS") else WRITE_ERRORS
        for code in codes:
            error = self._get_response_for_code(ErrorSerializer, code, ("application/json",), direction)
            if code in responses:
                # The view described this error; keep its words, give it the shape.
                responses[code].setdefault("content", {}).update(error["content"])
                continue
            error["description"] = ERRORS[code]
            if code == "503":
                error["headers"] = dict(RETRY_AFTER)
            responses[code] = error
        return dict(sorted(responses.items()))
