import json

import django_filters as filters
from django.db.models import F
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from .exports import FORMATS, audit_export
from .models import AuditEvent
from .selectors import audit_sees_sensitive, events_visible_to, stage_snapshot
from .verify import ChainReport, chain_verify_steps


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "seq", "timestamp", "actor_username", "action", "object_type", "object_id",
            "object_repr", "changes", "request_id", "source_ip", "prev_hash", "hash",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("sees_sensitive"):
            data["source_ip"] = None  # auditors and administrators only
        return data


class AuditEventFilter(filters.FilterSet):
    actor = filters.CharFilter(field_name="actor_username")
    action = filters.CharFilter()
    action_prefix = filters.CharFilter(field_name="action", lookup_expr="startswith")
    object_type = filters.CharFilter()
    object_id = filters.CharFilter()
    request_id = filters.CharFilter()
    since = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "object_type", "object_id", "request_id", "since", "until"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, newest first. Filter by actor, action, object, request id and time."""

    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.none()  # for the schema; requests read `get_queryset`
    filterset_class = AuditEventFilter
    search_fields = ["object_repr", "action", "actor_username"]
    ordering_fields = ["seq", "timestamp"]

    def get_queryset(self):
        return events_visible_to(self.request.user).order_by(F("seq").desc(nulls_first=True), "-id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "sees_sensitive": audit_sees_sensitive(self.request.user)}

    def perform_content_negotiation(self, request, force=False):
        # On the export, `?format=` names the file format, not a DRF renderer; errors stay JSON.
        if self.action == "export":
            renderer = self.get_renderers()[0]
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(FORMATS), description="csv (default) or jsonl")],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR},
        filters=True,
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """Stream the filtered trail, oldest first, as CSV or JSON lines (see `audit.exports`).

        Takes the list's filters and shows the events the list shows (sign-ins and source IP
        addresses only to auditors and administrators). Auditors, risk officers and administrators
        only; the export is itself recorded as an `audit.export` event.
        """
        fmt = request.query_params.get("format", "csv")
        if fmt not in FORMATS:
            raise serializers.ValidationError({"format": [f"Choose one of: {', '.join(FORMATS)}."]})
        queryset = self.filter_queryset(self.get_queryset())
        filters = {k: v for k, v in request.query_params.items() if k != "format"}
        return audit_export(actor=request.user, queryset=queryset, fmt=fmt, filters=filters, via="api")


_VERIFY_RESULT = inline_serializer(
    "AuditVerifyResult",
    {
        "progress": serializers.ListField(child=serializers.IntegerField(), help_text="events checked so far, streamed as the walk goes"),
        "ok": serializers.BooleanField(),
        "checked": serializers.IntegerField(),
        "first_broken": inline_serializer(
            "AuditFirstBroken",
            {"seq": serializers.IntegerField(allow_null=True), "id": serializers.IntegerField(allow_null=True), "reason": serializers.CharField()},
            allow_null=True,
        ),
        "checkpoint": inline_serializer(
            "AuditCheckpoint",
            {"seq": serializers.IntegerField(), "hash": serializers.CharField(), "time": serializers.DateTimeField()},
            allow_null=True,
        ),
        "unsealed": serializers.IntegerField(),
    },
)


def _verify_stream():
    """One JSON document, streamed: `{"progress":[0,100000,…],"ok":…,"checked":…,…}`.

    The progress numbers leave while the chain is walked, so no proxy or gunicorn timeout cuts a
    long verification off, and a client that reads the body as it comes can show progress.
    """
    yield '{"progress":[0'
    for step in chain_verify_steps():
        if isinstance(step, ChainReport):
            yield "]," + json.dumps(step.as_dict())[1:]
            return
        yield f",{step}"


class AuditVerifyView(APIView):
    @extend_schema(responses={200: _VERIFY_RESULT})
    def get(self, request):
        """Verify the whole hash chain against the latest signed checkpoint.

        `first_broken` names the first event that does not fit (edited, deleted, reordered,
        re-hashed) or the checkpoint the trail falls short of (deleted tail, truncation);
        `checkpoint` is the latest signed checkpoint the chain was held to. The body is streamed,
        with `progress` growing every 100,000 events.
        """
        return StreamingHttpResponse(_verify_stream(), content_type="application/json")


class PointInTimeQuery(serializers.Serializer):
    at = serializers.DateTimeField(help_text="ISO 8601 instant; without an offset it is read in the server's time zone.")


class AuditPointInTimeView(APIView):
    @extend_schema(parameters=[PointInTimeQuery], responses={200: dict})
    def get(self, request):
        """Which version of each model was in each stage at `at`, reconstructed from the trail.

        Each version names who moved it there, who approved it and under which policy version
        (the stage change's evidence) and the request id of the change.
        """
        query = PointInTimeQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(stage_snapshot(at=query.validated_data["at"]))
