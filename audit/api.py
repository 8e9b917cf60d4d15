import django_filters as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from .exports import FORMATS, audit_export
from .models import AuditEvent
from .selectors import stage_snapshot
from .services import audit_chain_verify


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "seq", "timestamp", "actor_username", "action", "object_type", "object_id",
            "object_repr", "changes", "request_id", "source_ip", "prev_hash", "hash",
        ]
        read_only_fields = fields


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
    queryset = AuditEvent.objects.order_by("-seq")
    filterset_class = AuditEventFilter
    search_fields = ["object_repr", "action", "actor_username"]
    ordering_fields = ["seq", "timestamp"]

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

        Takes the list's filters. Auditors, risk officers and administrators only; the export is
        itself recorded as an `audit.export` event.
        """
        fmt = request.query_params.get("format", "csv")
        if fmt not in FORMATS:
            raise serializers.ValidationError({"format": [f"Choose one of: {', '.join(FORMATS)}."]})
        queryset = self.filter_queryset(self.get_queryset())
        filters = {k: v for k, v in request.query_params.items() if k != "format"}
        return audit_export(actor=request.user, queryset=queryset, fmt=fmt, filters=filters, via="api")


class AuditVerifyView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        """Verify the whole hash chain; `first_broken` names the first event that does not fit."""
        return Response(audit_chain_verify().as_dict())


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
