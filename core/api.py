"""Shared API pieces: pagination, the single error shape, and base viewsets.

Every error answers::

    {"status": 400, "code": "invalid", "detail": "…", "errors": {"field": ["…"]}, "request_id": "…"}

`errors` holds field-level messages (key `non_field_errors` for the rest).

Whatever raised it: DRF views render errors through `exception_handler`; what escapes a view or
happens outside one (an unknown URL, an oversized body, the database gone) is rendered by
`core.middleware.ApiErrorMiddleware` with the same `error_body`/`unexpected_error` below.
"""

import datetime
import logging

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, pagination, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .errors import Forbidden, ServiceError
from .refusals import mark_audited, refusal_record

logger = logging.getLogger("steward.api")

# Integers the databases can compare with: SQLite raises OverflowError past 64 bits, and
# PostgreSQL's bigint is the same range.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        # DRF falls back to the default on junk (`page_size=true`); a client asking for something
        # it will not get should be told so.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # ASCII digits only: "²".isdigit() is true but int("²") fails.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.page_size_query_param:
                param["schema"].update(minimum=1, maximum=self.max_page_size)
            elif param["name"] == self.page_query_param:
                param["schema"].update(minimum=1)
        return params


class FilterBackend(DjangoFilterBackend):
    """django-filter, with every number filter bounded to what the database can compare.

    Declared `NumberFilter`s and the ones generated from `filterset_fields` alike: a value past
    64 bits answers 400 naming the parameter instead of an OverflowError (500) on SQLite.
    """

    def filter_queryset(self, request, queryset, view):
        # With no parameter naming one of its filters a filterset changes nothing; building it
        # (a deep copy of every filter and a form per request) was a third of a list's time.
        # Prefix match: range filters take `<name>_min`, `<name>_after`, ….
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not any(
            key.startswith(name) for key in request.query_params for name in filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            bound_number_filters(filterset)
        return filterset

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        try:
            filterset_class = self.get_filterset_class(view, view.get_queryset())
        except Exception:  # schema generation without a request; keep the defaults
            return params
        numbers = {
            name for name, f in (filterset_class.base_filters.items() if filterset_class else [])
            if isinstance(f, django_filters.NumberFilter)
        }
        for param in params:
            if param["name"] in numbers:
                param["schema"].update(minimum=INT64_MIN, maximum=INT64_MAX)
        return params


class IdFilter(django_filters.NumberFilter):
    """A whole-number filter (ids, version numbers): `1.5` and `3e5` are refused, not rounded."""

    field_class = forms.IntegerField


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 instant, handed to the database in UTC: PostgreSQL refuses offsets past ±15:59
    that ISO 8601 allows (`-17:56` → DataError), and a year-1 time with an offset leaves the
    calendar once converted."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


def bound_number_filters(filterset):
    for f in filterset.filters.values():
        if isinstance(f, django_filters.NumberFilter):
            f.extra.setdefault("min_value", INT64_MIN)
            f.extra.setdefault("max_value", INT64_MAX)
        elif isinstance(f, django_filters.IsoDateTimeFilter):
            f.field_class = UtcIsoDateTimeField


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


def error_body(request, status_code, code, detail, errors=None):
    """The one error shape, for code outside DRF views (middleware)."""
    return _body(status_code, code, detail, errors or {}, request)


def unavailable_headers():
    return {"Retry-After": str(settings.STEWARD_API_RETRY_AFTER)}


def special_error(exc):
    """(status, code, detail, headers) for failures that are not the client's fault in the usual
    sense — too big, database unavailable — or None."""
    if isinstance(exc, RequestDataTooBig):
        return (
            413, "payload_too_large",
            f"The request body exceeds the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.", {},
        )
    if isinstance(exc, TooManyFieldsSent):
        return (
            413, "payload_too_large",
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields.", {},
        )
    if isinstance(exc, OverflowError):
        # SQLite's driver refuses integers past 64 bits before the query runs (PostgreSQL
        # answers DataError below): the client's number, not our fault.
        return (400, "invalid", "A number is outside what the database accepts.", {})
    if isinstance(exc, DataError):
        # A value the database refuses (out of range, malformed for its type) that validation
        # let through: the client's input, not our fault. Validation should name the field;
        # this is the net under it.
        logger.warning("database refused a value: %s", exc)
        return (400, "invalid", "A value is outside what the database accepts.", {})
    if isinstance(exc, (OperationalError, InterfaceError)):
        # Connection refused, server restarting, SQLite busy past its timeout: all transient.
        # Django closes the broken connection at the end of the request (errors_occurred), so
        # the next request connects afresh.
        logger.warning("database unavailable: %s", exc)
        return (
            503, "unavailable", "The database is unavailable; try again shortly.",
            unavailable_headers(),
        )
    return None


def unexpected_error(exc, request):
    """Log an exception nobody handled — once, with the request id — and name the id."""
    request_id = getattr(getattr(request, "_request", request), "request_id", "")
    logger.error(
        "unhandled %s on %s %s (request %s)", type(exc).__name__, getattr(request, "method", ""),
        getattr(request, "path", ""), request_id, exc_info=(type(exc), exc, exc.__traceback__),
    )
    return (
        500, "server_error",
        f"Something went wrong on our side; quote request id {request_id} when reporting it.", {},
    )


def exception_handler(exc, context):
    request = context.get("request")
    _audit_refusal(exc, request)
    special = special_error(exc)
    if special is not None:
        status_code, code, detail, headers = special
        set_rollback()
        response = Response(_body(status_code, code, detail, {}, request), status=status_code, headers=headers)
        response._has_been_logged = status_code >= 500  # logged above; Django would log it again
        return response
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
        set_rollback()
        status_code, code, detail, _ = unexpected_error(exc, request)
        response = Response(_body(status_code, code, detail, {}, request), status=status_code)
        response._has_been_logged = True  # once, by unexpected_error, with the traceback
        return response
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
        instance = type(self).create_service(actor=self.request.user, **serializer.validated_data)
        serializer.instance = self._reread(instance)

    def perform_update(self, serializer):
        instance = type(self).update_service(
            actor=self.request.user,
            **{self.service_instance_kwarg: serializer.instance},
            **serializer.validated_data,
        )
        serializer.instance = self._reread(instance)

    def _reread(self, instance):
        # The answer has the list's shape: annotations such as `model_count` come from the
        # viewset's queryset, not from the row the service returned.
        fresh = self.get_queryset().get(pk=instance.pk)
        # What the service told its caller on the instance (e.g. registry's `pending_proposal`
        # when a change waits for four eyes) survives the re-read.
        for name, value in vars(instance).items():
            if not name.startswith("_") and name not in vars(fresh):
                setattr(fresh, name, value)
        return fresh

    def perform_destroy(self, instance):
        type(self).delete_service(actor=self.request.user, **{self.service_instance_kwarg: instance})
