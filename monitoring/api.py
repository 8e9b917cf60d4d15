"""REST API of monitoring, under `/api/v1/models/<name>/versions/<number>/monitoring/`.

Views validate, call one service, serialise the result. Uploads are multipart with the data in
`file` (CSV, NDJSON or Parquet, told by the file name or `format`), streamed to a temporary file
and hashed on the way; the file is deleted after the request.
"""

import json

from django.db.models import Prefetch
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core import limits
from core.api import Pagination
from core.errors import InvalidInput
from core.limits import JSONParser
from registry.models import ModelVersion
from registry.uploads import StreamingHashHandler

from . import ingest, services
from .models import Alert, Batch, CheckPart, DriftCheck, FeatureDrift, Monitor, ReferenceProfile
from .selectors import open_alerts


class _DataFileParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = parser_context.get("encoding", "utf-8")
        try:
            data, files = DjangoMultiPartParser(meta, stream, [StreamingHashHandler(request._request)], encoding).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return DataAndFiles(data, files)


# The form fields beside the file are bounded like every API input (core.limits).
DataFileParser = limits.bounded(_DataFileParser)


def _job_ids():
    """A check's parts for their job ids only (their results can be large)."""
    return Prefetch("parts", queryset=CheckPart.objects.only("id", "check_run_id", "job_id"))


def _version(name, number) -> ModelVersion:
    return get_object_or_404(ModelVersion.objects.select_related("model__use_case"), model__name=name, number=number)


def _upload(request):
    f = request.FILES.get("file")
    if f is None:
        raise InvalidInput("Send the data as a file.", fields={"file": ["Required (multipart field 'file')."]})
    return f, f.temporary_file_path(), getattr(f, "sha256", "")


def _fields(request, f) -> dict:
    """The form's fields as single values (a QueryDict keeps lists), plus the file."""
    return {**{k: request.data.get(k) for k in request.data if k != "file"}, "file": f}


# --- serializers ----------------------------------------------------------------------------


class MonitorSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", read_only=True)
    model = serializers.CharField(source="version.model.name", read_only=True)
    last_check = serializers.IntegerField(source="last_check_id", read_only=True, allow_null=True)
    has_reference = serializers.SerializerMethodField()
    drift_status = serializers.CharField(read_only=True, help_text="unknown | ok | warning | drift")
    task = serializers.CharField(required=False, allow_blank=True, help_text="'' (infer) | binary_classification | regression")
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null until first configured")

    class Meta:
        model = Monitor
        fields = ["model", "version", "stattest", "thresholds", "drift_share", "fdr_control", "fdr_alpha", "chunk_size",
                  "task", "score_threshold", "schedule_minutes", "window_hours", "next_run_at", "drift_status",
                  "retraining_recommended", "last_check", "has_reference", "updated_at"]
        read_only_fields = ["next_run_at", "drift_status", "retraining_recommended", "updated_at"]

    def get_has_reference(self, obj) -> bool:
        return ReferenceProfile.objects.filter(version_id=obj.version_id).exists()


class ReferenceSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = ReferenceProfile
        fields = ["rows", "sample_cap", "sha256", "filename", "features", "created_by", "created_at"]


class ReferenceUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=["csv", "ndjson", "parquet"], required=False)
    feature_types = serializers.CharField(required=False, help_text='JSON object, e.g. {"age": "numeric"}')
    sample_cap = serializers.IntegerField(required=False, min_value=1000)


class FeatureTypesSerializer(serializers.Serializer):
    feature_types = serializers.DictField(child=serializers.ChoiceField(choices=["numeric", "categorical"]))


class BatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Batch
        fields = ["id", "sha256", "filename", "format", "window_start", "window_end", "rows", "created_at"]


class BatchUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=["csv", "ndjson", "parquet"], required=False)
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()


class LabelsUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Columns row_id and label.")
    format = serializers.ChoiceField(choices=["csv", "ndjson", "parquet"], required=False)


class LabelsResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    labelled = serializers.IntegerField()
    already_labelled = serializers.IntegerField()


class FeatureDriftSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeatureDrift
        fields = ["feature", "kind", "method", "statistic", "p_value", "p_adjusted", "threshold", "drifted",
                  "drifted_adjusted", "reference_n", "current_n", "psi", "psi_band", "histogram"]


class CheckSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="running | done | failed")
    trigger = serializers.CharField(read_only=True, help_text="manual | schedule")
    drift_status = serializers.CharField(read_only=True, help_text="unknown | ok | warning | drift")
    jobs = serializers.SerializerMethodField()

    class Meta:
        model = DriftCheck
        fields = ["id", "window_start", "window_end", "trigger", "status", "config", "created_at", "finished_at",
                  "batches", "current_rows", "drifted_features", "total_features", "share", "dataset_drift",
                  "drift_status", "performance", "error", "jobs"]

    def get_jobs(self, obj) -> list[int]:
        return [p.job_id for p in obj.parts.all() if p.job_id]


class CheckDetailSerializer(CheckSerializer):
    features = FeatureDriftSerializer(many=True, read_only=True)

    class Meta(CheckSerializer.Meta):
        fields = [*CheckSerializer.Meta.fields, "features"]


class CheckRequestSerializer(serializers.Serializer):
    window_start = serializers.DateTimeField(required=False)
    window_end = serializers.DateTimeField(required=False)


class AlertSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="drift | degradation")
    status = serializers.CharField(read_only=True, help_text="open | acknowledged | closed")
    model = serializers.CharField(source="version.model.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    check_run = serializers.IntegerField(source="check_run_id", read_only=True, allow_null=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", default=None, read_only=True)
    closed_by = serializers.CharField(source="closed_by.username", default=None, read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "model", "version", "check_run", "kind", "status", "detail", "data", "created_at",
                  "acknowledged_by", "acknowledged_at", "closed_by", "closed_at", "close_comment"]


class AlertCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(allow_blank=True, required=False, default="")


# --- views ----------------------------------------------------------------------------------


class MonitorView(APIView):
    """A version's monitoring settings, schedule and drift status. PATCH changes settings: the
    tests and thresholds are risk officers'; schedule, task and score threshold the model's."""

    parser_classes = [JSONParser]

    @extend_schema(responses={200: MonitorSerializer})
    def get(self, request, name, number):
        return Response(MonitorSerializer(services.monitor_of(_version(name, number))).data)

    @extend_schema(request=MonitorSerializer, responses={200: MonitorSerializer})
    def patch(self, request, name, number):
        version = _version(name, number)
        data = MonitorSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        monitor = services.monitor_configure(actor=request.user, version=version, **data.validated_data)
        return Response(MonitorSerializer(monitor).data)


class ReferenceView(APIView):
    """The reference profile: POST uploads the reference data (multipart); PATCH corrects
    feature kinds before any production batch arrives."""

    parser_classes = [DataFileParser, JSONParser]

    @extend_schema(responses={200: ReferenceSerializer})
    def get(self, request, name, number):
        profile = get_object_or_404(ReferenceProfile.objects.select_related("created_by"), version=_version(name, number))
        return Response(ReferenceSerializer(profile).data)

    @extend_schema(request={"multipart/form-data": ReferenceUploadSerializer}, responses={201: ReferenceSerializer})
    def post(self, request, name, number):
        version = _version(name, number)
        f, path, sha = _upload(request)
        data = ReferenceUploadSerializer(data=_fields(request, f))
        data.is_valid(raise_exception=True)
        types = data.validated_data.get("feature_types")
        if types:
            try:
                types = json.loads(types)
                assert isinstance(types, dict)
            except (ValueError, AssertionError):
                raise InvalidInput("Invalid feature types.", fields={"feature_types": ["A JSON object name → kind."]}) from None
        profile = ingest.reference_upload(actor=request.user, version=version, path=path, filename=f.name, sha256=sha,
                                            fmt=data.validated_data.get("format", ""), feature_types=types,
                                            sample_cap=data.validated_data.get("sample_cap"))
        return Response(ReferenceSerializer(profile).data, status=201)

    @extend_schema(request=FeatureTypesSerializer, responses={200: ReferenceSerializer})
    def patch(self, request, name, number):
        data = FeatureTypesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = ingest.reference_set_types(actor=request.user, version=_version(name, number),
                                               feature_types=data.validated_data["feature_types"])
        return Response(ReferenceSerializer(profile).data)


class BatchListView(APIView):
    """Production batches. POST one file per time window; the same file again answers 200 with
    the stored batch and stores nothing."""
    pagination_class = Pagination  # the schema shows the paginated envelope

    parser_classes = [DataFileParser]

    @extend_schema(responses={200: BatchSerializer(many=True)})
    def get(self, request, name, number):
        qs = Batch.objects.filter(version=_version(name, number)).defer("summary").order_by("-window_start", "-pk")
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(BatchSerializer(page, many=True).data)

    @extend_schema(request={"multipart/form-data": BatchUploadSerializer}, responses={201: BatchSerializer, 200: BatchSerializer})
    def post(self, request, name, number):
        version = _version(name, number)
        f, path, sha = _upload(request)
        data = BatchUploadSerializer(data=_fields(request, f))
        data.is_valid(raise_exception=True)
        v = data.validated_data
        batch, created = ingest.batch_upload(actor=request.user, version=version, path=path, filename=f.name, sha256=sha,
                                               window_start=v["window_start"], window_end=v["window_end"], fmt=v.get("format", ""))
        return Response(BatchSerializer(batch).data, status=201 if created else 200)


class LabelsView(APIView):
    """Ground truth for rows sent before (joined by `row_id`)."""

    parser_classes = [DataFileParser]

    @extend_schema(request={"multipart/form-data": LabelsUploadSerializer}, responses={200: LabelsResultSerializer})
    def post(self, request, name, number):
        version = _version(name, number)
        f, path, _ = _upload(request)
        data = LabelsUploadSerializer(data=_fields(request, f))
        data.is_valid(raise_exception=True)
        result = ingest.labels_upload(actor=request.user, version=version, path=path, filename=f.name,
                                        fmt=data.validated_data.get("format", ""))
        return Response(result)


class CheckListView(APIView):
    """Drift checks of the version; POST queues one (workers run it; poll the jobs or the check)."""
    pagination_class = Pagination  # the schema shows the paginated envelope

    parser_classes = [JSONParser]

    def _qs(self, version):
        return DriftCheck.objects.filter(version=version).prefetch_related(_job_ids()).order_by("-created_at", "-pk")

    @extend_schema(responses={200: CheckSerializer(many=True)})
    def get(self, request, name, number):
        paginator = Pagination()
        page = paginator.paginate_queryset(self._qs(_version(name, number)), request, view=self)
        return paginator.get_paginated_response(CheckSerializer(page, many=True).data)

    @extend_schema(request=CheckRequestSerializer, responses={202: CheckSerializer})
    def post(self, request, name, number):
        version = _version(name, number)
        data = CheckRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check = services.check_request(actor=request.user, version=version, **data.validated_data)
        return Response(CheckSerializer(self._qs(version).get(pk=check.pk)).data, status=202)


class CheckDetailView(APIView):
    @extend_schema(responses={200: CheckDetailSerializer})
    def get(self, request, name, number, check_id):
        check = get_object_or_404(DriftCheck.objects.prefetch_related(_job_ids(), "features"),
                                  version=_version(name, number), pk=check_id)
        return Response(CheckDetailSerializer(check).data)


class AlertListView(APIView):
    """Alerts of the version (all statuses; `?status=open` to filter)."""
    pagination_class = Pagination  # the schema shows the paginated envelope

    @extend_schema(responses={200: AlertSerializer(many=True)})
    def get(self, request, name, number):
        qs = Alert.objects.filter(version=_version(name, number)).select_related(
            "version__model", "acknowledged_by", "closed_by")
        if request.query_params.get("status"):
            qs = qs.filter(status=request.query_params["status"])
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(AlertSerializer(page, many=True).data)


class AlertActionView(APIView):
    parser_classes = [JSONParser]
    action = ""

    @extend_schema(request=AlertCommentSerializer, responses={200: AlertSerializer})
    def post(self, request, name, number, alert_id):
        alert = get_object_or_404(Alert, version=_version(name, number), pk=alert_id)
        data = AlertCommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if self.action == "acknowledge":
            alert = services.alert_acknowledge(actor=request.user, alert=alert)
        else:
            alert = services.alert_close(actor=request.user, alert=alert, comment=data.validated_data["comment"])
        return Response(AlertSerializer(Alert.objects.select_related("version__model", "acknowledged_by", "closed_by").get(pk=alert.pk)).data)


class AlertAcknowledgeView(AlertActionView):
    action = "acknowledge"


class AlertCloseView(AlertActionView):
    """Close an acknowledged alert with a comment (risk officers who do not own the model)."""

    action = "close"


class OpenAlertsView(APIView):
    """Every alert not yet closed, across versions (the dashboard's list)."""
    pagination_class = Pagination  # the schema shows the paginated envelope

    @extend_schema(responses={200: AlertSerializer(many=True)})
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(open_alerts(request.user).select_related("acknowledged_by", "closed_by"), request, view=self)
        return paginator.get_paginated_response(AlertSerializer(page, many=True).data)
