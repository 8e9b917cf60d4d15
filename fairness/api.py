"""Bias report REST API. Views validate, call one service, serialise the result."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import limits
from registry.models import ModelVersion, UseCase

from . import services
from .models import BiasReport, EvaluationSet


class SensitiveAttributesSerializer(serializers.Serializer):
    attributes = serializers.ListField(child=serializers.CharField(max_length=100, allow_blank=True), max_length=50)
    intersections = serializers.ListField(child=serializers.ListField(child=serializers.CharField(max_length=100)),
                                          required=False, default=list)


class BiasReportSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name")
    version = serializers.IntegerField(source="version.number")
    evaluation_set = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by.username")

    class Meta:
        model = BiasReport
        fields = ["id", "model", "version", "status", "passed", "artifact_sha256", "evaluation_sha256", "evaluation_set",
                  "attributes", "intersections", "thresholds", "tier", "policy_number", "seed", "results", "error",
                  "job", "requested_by", "created_at", "completed_at"]

    def get_evaluation_set(self, obj) -> dict:
        e = obj.evaluation_set
        return {"id": e.pk, "filename": e.filename, "format": e.format, "rows": e.rows, "size": e.size}


class BiasReportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="CSV or Parquet: prediction, label, score?, attributes.")
    evaluation_set = serializers.IntegerField(required=False, help_text="Recompute on an earlier set of this version.")


def _attributes_body(use_case):
    attributes, intersections = services.attributes_for(use_case=use_case)
    return {"use_case": use_case.pk, "attributes": attributes, "intersections": intersections}


class SensitiveAttributesView(APIView):
    """The sensitive or segment attributes every bias report of the use case's models covers."""

    @extend_schema(responses={200: SensitiveAttributesSerializer})
    def get(self, request, pk):
        return Response(_attributes_body(get_object_or_404(UseCase, pk=pk)))

    @extend_schema(request=SensitiveAttributesSerializer, responses={200: SensitiveAttributesSerializer})
    def put(self, request, pk):
        use_case = get_object_or_404(UseCase, pk=pk)
        data = SensitiveAttributesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.sensitive_attributes_set(actor=request.user, use_case=use_case, **data.validated_data)
        return Response(_attributes_body(use_case))


def _reports():
    return BiasReport.objects.select_related("version__model", "evaluation_set", "requested_by")


class VersionBiasReportsView(APIView):
    """GET the version's reports (newest first); POST an evaluation set (multipart `file`) or
    `{evaluation_set}` to queue a report (202 with the pending report; poll it or its job)."""

    parser_classes = [limits.MultiPartParser, limits.FormParser, limits.JSONParser]

    @extend_schema(responses={200: BiasReportSerializer(many=True)})
    def get(self, request, name, number):
        version = get_object_or_404(ModelVersion, model__name=name, number=number)
        return Response(BiasReportSerializer(_reports().filter(version=version), many=True).data)

    @extend_schema(request={"multipart/form-data": BiasReportRequestSerializer, "application/json": BiasReportRequestSerializer},
                   responses={202: BiasReportSerializer, 400: OpenApiResponse(description="Bad rows, by row number")})
    def post(self, request, name, number):
        version = get_object_or_404(ModelVersion.objects.select_related("model__use_case"), model__name=name, number=number)
        data = BiasReportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        evaluation_set = None
        if data.validated_data.get("evaluation_set"):
            evaluation_set = get_object_or_404(EvaluationSet, pk=data.validated_data["evaluation_set"])
        upload = data.validated_data.get("file")
        report = services.bias_report_request(actor=request.user, version=version, upload=upload,
                                              filename=getattr(upload, "name", ""), evaluation_set=evaluation_set)
        return Response(BiasReportSerializer(_reports().get(pk=report.pk)).data, status=status.HTTP_202_ACCEPTED)


class BiasReportView(APIView):
    @extend_schema(responses={200: BiasReportSerializer})
    def get(self, request, pk):
        return Response(BiasReportSerializer(get_object_or_404(_reports(), pk=pk)).data)
