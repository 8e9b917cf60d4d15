"""REST API of data-subject rights. Views validate, call one service, serialise the result."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core import limits
from core.errors import NotFound
from registry.models import Dataset, ModelVersion

from . import selectors, services
from .models import SubjectKeyIndex, SubjectRequest
from .serializers import (
    LineageSerializer,
    ObligationSerializer,
    ReceiptSerializer,
    RetrainedInputSerializer,
    SignInputSerializer,
    SubjectKeyIndexSerializer,
    SubjectKeysUploadSerializer,
    SubjectRequestInputSerializer,
    SubjectRequestSerializer,
)


class DatasetLineageView(APIView):
    """A dataset's lineage graph: the datasets it derives from and those derived from it."""

    @extend_schema(responses={200: LineageSerializer})
    def get(self, request, pk):
        return Response(selectors.dataset_lineage(get_object_or_404(Dataset, pk=pk)))


class SubjectKeysView(APIView):
    """The dataset's data-subject key index (salted hashes; only its summary is ever shown)."""

    parser_classes = [limits.MultiPartParser]

    @extend_schema(responses={200: SubjectKeyIndexSerializer})
    def get(self, request, pk):
        dataset = get_object_or_404(Dataset, pk=pk)
        index = SubjectKeyIndex.objects.select_related("uploaded_by").filter(dataset=dataset).first()
        if index is None:
            return Response({"dataset": dataset.pk, "indexed": False, "key_count": 0, "file_sha256": None,
                             "uploaded_by": None, "uploaded_at": None})
        return Response(SubjectKeyIndexSerializer(index).data)

    @extend_schema(request={"multipart/form-data": SubjectKeysUploadSerializer}, responses={201: SubjectKeyIndexSerializer})
    def post(self, request, pk):
        dataset = get_object_or_404(Dataset, pk=pk)
        data = SubjectKeysUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        index = services.subject_keys_upload(actor=request.user, dataset=dataset, fileobj=data.validated_data["file"])
        return Response(SubjectKeyIndexSerializer(index).data, status=201)


class SubjectRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                            viewsets.GenericViewSet):
    """Data-subject requests; a request's detail is its receipt."""

    serializer_class = SubjectRequestSerializer
    filterset_fields = ["kind"]

    def get_queryset(self):
        return SubjectRequest.objects.select_related("created_by").order_by("-created_at", "-pk")

    @extend_schema(responses={200: ReceiptSerializer})
    def retrieve(self, request, pk=None):
        return Response(selectors.request_receipt(self.get_object()))

    @extend_schema(request=SubjectRequestInputSerializer, responses={201: ReceiptSerializer})
    def create(self, request):
        data = SubjectRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        made = services.subject_request_create(actor=request.user, **data.validated_data)
        return Response(selectors.request_receipt(made), status=201)


class ObligationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Retraining obligations opened by erasure requests and passed retention dates."""

    serializer_class = ObligationSerializer
    filterset_fields = ["status", "source", "model__name"]

    def get_queryset(self):
        return selectors.obligations_with_details().order_by("due_date", "pk")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([selectors.obligation_body(o) for o in page])

    def retrieve(self, request, pk=None):
        return Response(selectors.obligation_body(self.get_object()))

    @extend_schema(request=SignInputSerializer, responses={200: ObligationSerializer})
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        data = SignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        obligation = services.obligation_sign(actor=request.user, obligation=self.get_object(), **data.validated_data)
        return Response(selectors.obligation_body(self.get_queryset().get(pk=obligation.pk)))

    @extend_schema(request=RetrainedInputSerializer, responses={200: ObligationSerializer})
    @action(detail=True, methods=["post"])
    def retrained(self, request, pk=None):
        obligation = self.get_object()
        data = RetrainedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = ModelVersion.objects.filter(model_id=obligation.model_id, number=data.validated_data["version"]).first()
        if version is None:
            raise NotFound("No such version of this model.", fields={"version": ["Unknown version number."]})
        obligation = services.obligation_close_retrained(actor=request.user, obligation=obligation, version=version)
        return Response(selectors.obligation_body(self.get_queryset().get(pk=obligation.pk)))
