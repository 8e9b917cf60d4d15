import django_filters as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import AuditEvent
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


class AuditVerifyView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        """Verify the whole hash chain; `first_broken` names the first event that does not fit."""
        return Response(audit_chain_verify().as_dict())
