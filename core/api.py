"""Shared API pieces: pagination, the single error shape, and base viewsets.

Every error answers::

    {"status": 400, "code": "invalid", "detail": "…", "errors": {"field": ["…"]}, "request_id": "…"}

`errors` holds field-level messages (key `non_field_errors` for the rest).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, pagination, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import Forbidden, ServiceError
from .refusals import mark_audited, refusal_record


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Payload too large."
    default_code = "payload_too_large"


def _flatten_codes(codes):
    if isinstance(codes, dict):
        for v in codes.values():
            yield from _flatten_codes(v)
    elif isinstance(codes, list):
        for v in codes:
            yield from _flatten_codes(v)
    else:
        yield codes


def _body(status_code, code, detail, errors, request):
    return {
        "status": status_code,
        "code": code,
        "detail": detail,
        "errors": errors,
        "request_id": getattr(getattr(request, "_request", request), "request_id", ""),
    }


def _audit_refusal(exc, request) -> None:
    """A write refused before (or outside) an auditing service is recorded here (core.refusals)."""
    if request is None or request.method in ("GET", "HEAD", "OPTIONS") or getattr(exc, "audited", False):
        return
    if isinstance(exc, Forbidden):
        reason = exc.message
    elif isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        reason = str(getattr(exc, "detail", "") or exc)
    else:
        return
    actor = getattr(exc, "actor", None) or request.user
    refusal_record(actor=actor, attempted=f"{request.method} {request.path}", reason=reason)
    mark_audited(exc)


def exception_handler(exc, context):
    request = context.get("request")
    _audit_refusal(exc, request)
    if isinstance(exc, ServiceError):
        return Response(
            _body(exc.status_code, exc.code, exc.message, exc.fields, request), status=exc.status_code
        )
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(_body(400, "invalid", "Invalid input.", errors, request), status=400)
    if isinstance(exc, IntegrityError):
        return Response(
            _body(409, "conflict", "The change conflicts with stored data.", {}, request), status=409
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        codes = set(_flatten_codes(exc.get_codes()))
        # A duplicate name is a conflict with stored data, not malformed input.
        status_code = 409 if codes == {"unique"} else 400
        response.status_code = status_code
        response.data = _body(
            status_code,
            "conflict" if status_code == 409 else "invalid",
            "Invalid input." if status_code == 400 else "Already exists.",
            errors,
            request,
        )
        return response
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    if isinstance(code, (list, dict)):
        code = "error"
    response.data = _body(response.status_code, code, str(detail), {}, request)
    return response


class ServiceModelViewSet:
    """Mixin for CRUD viewsets whose writes go through services.

    Declare `create_service`, `update_service`, `delete_service` as callables taking keyword
    arguments (`actor=`, the instance under `service_instance_kwarg`, and the validated fields).
    """

    create_service = None
    update_service = None
    delete_service = None
    service_instance_kwarg = "instance"

    def perform_create(self, serializer):
        serializer.instance = type(self).create_service(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = type(self).update_service(
            actor=self.request.user,
            **{self.service_instance_kwarg: serializer.instance},
            **serializer.validated_data,
        )

    def perform_destroy(self, instance):
        type(self).delete_service(actor=self.request.user, **{self.service_instance_kwarg: instance})
