"""Errors raised by services. The API's exception handler turns them into the one JSON shape;
portal views show `message` to the person."""


class ServiceError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class InvalidInput(ServiceError):
    status_code = 400
    code = "invalid"


class Forbidden(ServiceError):
    status_code = 403
    code = "permission_denied"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"
