"""REST API of the inventory. Views validate, call one service, serialise the result."""

from django.db.models import Count, Max, OuterRef, Prefetch, Subquery
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core import limits
from core.api import ServiceModelViewSet
from core.errors import NotFound

from . import selectors, services
from .filters import DatasetFilter, ModelVersionFilter, RegisteredModelFilter, UseCaseFilter
from .models import Dataset, ModelVersion, RegisteredModel, UseCase
from .serializers import (
    DatasetSerializer,
    ModelVersionCreateSerializer,
    ModelVersionSerializer,
    ModelVersionUpdateSerializer,
    ProposalSerializer,
    RegisteredModelSerializer,
    UseCaseSerializer,
)
from .uploads import ArtifactMultiPartParser


class UseCaseViewSet(ServiceModelViewSet, viewsets.ModelViewSet):
    serializer_class = UseCaseSerializer
    filterset_class = UseCaseFilter
    search_fields = ["name", "purpose", "business_unit"]
    ordering_fields = ["name", "created_at"]
    service_instance_kwarg = "use_case"
    create_service = services.use_case_create
    update_service = services.use_case_update
    delete_service = services.use_case_delete

    def get_queryset(self):
        return UseCase.objects.select_related("owner").annotate(model_count=Count("models")).order_by("name")


class DatasetViewSet(ServiceModelViewSet, viewsets.ModelViewSet):
    serializer_class = DatasetSerializer
    filterset_class = DatasetFilter
    search_fields = ["name", "description", "source_uri"]
    ordering_fields = ["name", "version", "created_at"]
    service_instance_kwarg = "dataset"
    create_service = services.dataset_create
    update_service = services.dataset_update
    delete_service = services.dataset_delete

    def get_queryset(self):
        return Dataset.objects.select_related("owner").prefetch_related(
            Prefetch("trained_versions", queryset=ModelVersion.objects.select_related("model").order_by("model__name", "number")),
            "derived_from",
        )


def _only_paging(request, paginator) -> bool:
    return set(request.query_params) <= {paginator.page_query_param, paginator.page_size_query_param}


def _version_number(stage=None):
    qs = ModelVersion.objects.filter(model_id=OuterRef("pk"))
    if stage:
        qs = qs.filter(stage=stage)
    return Subquery(qs.order_by("-number").values("number")[:1])


class RegisteredModelViewSet(ServiceModelViewSet, viewsets.ModelViewSet):
    serializer_class = RegisteredModelSerializer
    filterset_class = RegisteredModelFilter
    lookup_field = "name"
    lookup_value_regex = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
    search_fields = ["name", "description", "use_case__name"]
    ordering_fields = ["name", "created_at", "updated_at"]
    service_instance_kwarg = "model"
    create_service = services.model_create
    update_service = services.model_update
    delete_service = services.model_delete

    @extend_schema(responses={200: RegisteredModelSerializer, 202: OpenApiResponse(
        description="The model with the other changes applied and `proposal`: moving it to another use case "
        "waits for a risk officer's confirmation.")})
    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        proposal = getattr(self._updated, "pending_proposal", None)
        if proposal is not None:
            response.status_code = status.HTTP_202_ACCEPTED
            response.data = {**response.data, "proposal": ProposalSerializer(proposal).data}
        return response

    def perform_update(self, serializer):
        super().perform_update(serializer)
        self._updated = serializer.instance

    def get_queryset(self):
        if self.action == "list":
            # Filtered, ordered and paged by id alone; the page's rows come from the selectors.
            # Annotating every model with its version numbers before taking a page made the
            # database group all models with all their versions (docs/benchmarks.md).
            return RegisteredModel.objects.order_by("name")
        return (
            RegisteredModel.objects.select_related("owner", "use_case")
            .prefetch_related("tags")
            .annotate(
                latest_version=Max("versions__number"),
                version_count=Count("versions"),
                production_version=_version_number("production"),
            )
            .order_by("name")
        )

    def list(self, request, *args, **kwargs):
        if _only_paging(request, self.paginator):  # no filter, search or ordering: the models by name
            return self.get_paginated_response(self.paginate_queryset(selectors.ModelPage()))
        ids = self.paginate_queryset(self.filter_queryset(self.get_queryset()).values_list("pk", flat=True))
        return self.get_paginated_response(selectors.models_by_ids(ids))

    def retrieve(self, request, *args, **kwargs):
        if request.query_params:  # filters apply to a detail too: the general path
            return super().retrieve(request, *args, **kwargs)
        row = selectors.model_get(name=kwargs[self.lookup_field])
        if row is None:
            raise Http404
        return Response(row)


class ModelVersionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Versions of one model, addressed by their number."""

    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilter
    lookup_field = "number"
    lookup_value_regex = r"[0-9]{1,18}"  # past 64 bits is no version (SQLite overflows)
    parser_classes = [limits.JSONParser, limits.bounded(ArtifactMultiPartParser), limits.FormParser]
    search_fields = ["description", "framework", "code_commit", "training_run"]
    ordering_fields = ["number", "created_at"]

    def get_model(self) -> RegisteredModel:
        if not hasattr(self, "_model"):
            self._model = get_object_or_404(RegisteredModel.objects.select_related("use_case"), name=self.kwargs["name"])
        return self._model

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return ModelVersion.objects.none()
        return (
            ModelVersion.objects.filter(model__name=self.kwargs["name"])
            .select_related("model", "created_by")
            .prefetch_related("training_datasets", "validation_datasets", "tags")
            .order_by("-number")
        )

    def list(self, request, *args, **kwargs):
        if _only_paging(request, self.paginator):  # no filter, search or ordering: newest first
            versions = selectors.VersionPage(model_name=kwargs["name"], **self._page_asked(request))
            if not versions.count():
                self.get_model()  # 404 for an unknown model rather than an empty list
            return self.get_paginated_response(self.paginate_queryset(versions))
        model = self.get_model()
        versions = ModelVersion.objects.filter(model_id=model.pk).order_by("-number")
        ids = self.paginate_queryset(self.filter_queryset(versions).values_list("pk", flat=True))
        return self.get_paginated_response(selectors.versions_by_ids(ids))

    def _page_asked(self, request) -> dict:
        """{offset, limit} of the page asked for when it is a plain page number and size; {}
        otherwise (`page=last`, junk: the paginator answers as it always does, after the
        model's 404)."""
        try:
            size = self.paginator.get_page_size(request)
        except ValidationError:
            return {}
        number = request.query_params.get(self.paginator.page_query_param, "1")
        if not (number.isascii() and number.isdigit() and len(number) <= 9 and int(number) >= 1):
            return {}
        return {"offset": (int(number) - 1) * size, "limit": size}

    def retrieve(self, request, *args, **kwargs):
        if request.query_params:  # filters apply to a detail too: the general path
            return super().retrieve(request, *args, **kwargs)
        row = selectors.version_get(model_name=kwargs["name"], number=int(kwargs["number"]))
        if row is None:
            raise Http404
        return Response(row)

    @extend_schema(
        request={"multipart/form-data": ModelVersionCreateSerializer, "application/json": ModelVersionCreateSerializer},
        responses={201: ModelVersionSerializer},
    )
    def create(self, request, *args, **kwargs):
        model = self.get_model()
        data = ModelVersionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.model_version_register(actor=request.user, model=model, **data.validated_data)
        version = self.get_queryset().get(pk=version.pk)
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ModelVersionUpdateSerializer, responses={200: ModelVersionSerializer})
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    @extend_schema(request=ModelVersionUpdateSerializer, responses={200: ModelVersionSerializer})
    def update(self, request, *args, **kwargs):
        version = self.get_object()
        data = ModelVersionUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        services.model_version_update(actor=request.user, version=version, **data.validated_data)
        return Response(ModelVersionSerializer(self.get_queryset().get(pk=version.pk)).data)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="No stored artifact")})
    @action(detail=True, methods=["get"], url_path="artifact", url_name="artifact")
    def artifact(self, request, *args, **kwargs):
        version = self.get_object()
        if not version.artifact:
            raise NotFound(
                "This version references an external artifact; fetch it from its URI.",
                fields={"artifact_uri": [version.artifact_uri]},
            )
        response = FileResponse(
            version.artifact.open("rb"), as_attachment=True, filename=version.artifact_filename or f"{version.model.name}-v{version.number}"
        )
        response["X-Checksum-SHA256"] = version.sha256
        return response
