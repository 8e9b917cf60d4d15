"""The protocol's plumbing: MLflow's error shape and statuses, its permission rule, the base view
that parses a request the way MLflow's client sends it, request fields, page tokens."""

import base64
import binascii
import json

from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.authentication import HashedTokenAuthentication, ReadOnlyToken, token_may_write
from core.errors import Conflict, Forbidden, NotFound, ServiceError
from core.limits import JSONParser
from core.models import ApiToken
from core.permissions import IsStewardUser
from core.roles import is_steward_user

from .. import services
from ..authentication import MlflowAuthentication


class MlflowError(Exception):
    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def missing(param: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{param}'.", 400)


def error_for(exc) -> MlflowError:
    if isinstance(exc, MlflowError):
        return exc
    if isinstance(exc, ServiceError):
        detail = exc.message
        extra = [f"{k}: {'; '.join(str(m) for m in v)}" for k, v in exc.fields.items()
                 if not isinstance(exc, services.PromotionPending)]
        if extra:
            detail = f"{detail} ({' | '.join(extra)})"
        if isinstance(exc, NotFound):
            return MlflowError("RESOURCE_DOES_NOT_EXIST", detail, 404)
        if isinstance(exc, Forbidden):
            return MlflowError("PERMISSION_DENIED", detail, 403)
        if isinstance(exc, Conflict):
            if exc.code == "already_exists":
                return MlflowError("RESOURCE_ALREADY_EXISTS", detail, 400)
            return MlflowError("RESOURCE_CONFLICT", detail, 409)
        return MlflowError("INVALID_PARAMETER_VALUE", detail, 400)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return MlflowError("UNAUTHENTICATED", str(exc.detail), 401)
    if isinstance(exc, exceptions.PermissionDenied):
        return MlflowError("PERMISSION_DENIED", str(exc.detail), 403)
    if isinstance(exc, exceptions.ParseError):
        return MlflowError("MALFORMED_REQUEST", str(exc.detail), 400)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MlflowError("ENDPOINT_NOT_FOUND", str(exc.detail), 404)
    if isinstance(exc, exceptions.APIException):
        return MlflowError("BAD_REQUEST", str(exc.detail), exc.status_code if exc.status_code < 500 else 400)
    if isinstance(exc, IntegrityError):
        # Rows that refer to it (versions, experiments, …) keep it: governance keeps its record.
        return MlflowError("RESOURCE_CONFLICT", "The change conflicts with stored data that refers to it.", 409)
    if isinstance(exc, Http404):
        return MlflowError("RESOURCE_DOES_NOT_EXIST", str(exc) or "Not found.", 404)
    return None


class MlflowPermission(IsStewardUser):
    """Steward's funnel (a role; auditors only read), where a read may come as POST
    (`get-latest-versions` tries POST first)."""

    def has_permission(self, request, view):
        if getattr(view, "read_only", False):
            return is_steward_user(request.user)
        if isinstance(request.auth, ApiToken) and not token_may_write(request.auth):
            raise ReadOnlyToken()  # a read token stays read-only through MLflow's protocol too
        return super().has_permission(request, view)


class _TokenAuthentication(HashedTokenAuthentication):
    check_scope = False  # MlflowPermission checks it, knowing which POSTs only read


class MlflowView(APIView):
    authentication_classes = [MlflowAuthentication, _TokenAuthentication]
    permission_classes = [MlflowPermission]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    schema = None  # not part of /api/v1's OpenAPI document
    read_only = False
    handler = None

    def handle_exception(self, exc):
        error = error_for(exc)
        if error is None:
            return super().handle_exception(exc)
        response = Response({"error_code": error.code, "message": error.message}, status=error.status)
        if error.status == 401:
            response["WWW-Authenticate"] = 'Basic realm="steward"'
        return response

    def _params(self, request) -> "Params":
        if request.method == "GET":
            return Params(request.query_params, multi=True)
        data = request.data
        if not isinstance(data, dict):
            raise MlflowError("MALFORMED_REQUEST", "The body must be a JSON object.", 400)
        return Params(data, multi=False)

    def _run(self, request):
        return Response(type(self).handler(request, self._params(request)))

    get = post = patch = delete = _run

    @classmethod
    def route(cls, handler, methods, read_only=False):
        return type(handler.__name__, (cls,), {
            "handler": staticmethod(handler), "read_only": read_only,
            "http_method_names": [m.lower() for m in methods] + ["options"],
        }).as_view()


class Params:
    """Request fields, whichever way they came."""

    def __init__(self, data, *, multi: bool):
        self.data, self.multi = data, multi

    def get(self, key, default=None):
        value = self.data.get(key, default)
        return default if value is None else value

    def required(self, key) -> str:
        value = self.get(key)
        if value in (None, ""):
            raise missing(key)
        return str(value)

    def list(self, key) -> list:
        if self.multi:
            return self.data.getlist(key)
        value = self.data.get(key) or []
        return value if isinstance(value, list) else [value]

    def int(self, key, default: int, maximum: int) -> int:
        value = self.get(key)
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise MlflowError("INVALID_PARAMETER_VALUE", f"'{key}' must be an integer.", 400) from None
        if not 1 <= number <= maximum:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"'{key}' must be between 1 and {maximum}, got {number}.", 400)
        return number



def not_found_model(name: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found", 404)


def not_found_version(name: str, number) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={number}) not found", 404)


def version_number(number) -> int:
    try:
        return int(number)
    except (TypeError, ValueError):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Version must be an integer, got {number!r}.", 400) from None



def tag_pairs(raw) -> dict:
    if not raw:
        return {}
    if not isinstance(raw, list) or not all(isinstance(t, dict) and "key" in t for t in raw):
        raise MlflowError("INVALID_PARAMETER_VALUE", "'tags' is a list of {key, value}.", 400)
    return {str(t["key"]): "" if t.get("value") is None else str(t["value"]) for t in raw}


class PageToken:
    @staticmethod
    def decode(token: str | None) -> int:
        if not token:
            return 0
        try:
            offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid page token.", 400) from None
        if not isinstance(offset, int) or offset < 0:
            raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid page token.", 400)
        return offset

    @staticmethod
    def encode(offset: int) -> str:
        return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def page(queryset, params: Params, *, default: int, maximum: int):
    size = params.int("max_results", default, maximum)
    offset = PageToken.decode(params.get("page_token"))
    rows = list(queryset[offset:offset + size + 1])
    token = PageToken.encode(offset + size) if len(rows) > size else None
    return rows[:size], token

