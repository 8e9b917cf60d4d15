"""Governance REST API. Views validate, call one service, serialise the result."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from registry.models import ModelVersion, Proposal, UseCase
from registry.serializers import ProposalSerializer

from . import defaults
from .card import model_card_data, model_card_markdown, model_card_update
from .classification import classification_set, scoring_scheme_update
from .gate_exceptions import gate_exception_grant, gate_exception_revoke
from .models import GateException, Policy, PromotionRequest, Review, SignOff
from .policy import policy_update
from .promotions import (
    promotion_complete,
    promotion_reject,
    promotion_request,
    promotion_withdraw,
    signoff_approve,
)
from .proposal_decisions import proposal_confirm, proposal_reject, proposal_withdraw
from .proposals import proposals_pending
from .raci import raci_update
from .reviews import review_complete
from .selectors import classification_current, policy_current, raci_for, scheme_current
from .serializers import (
    ClassificationInputSerializer,
    ClassificationSerializer,
    CommentSerializer,
    GateExceptionInputSerializer,
    GateExceptionSerializer,
    ModelCardTextSerializer,
    PolicyInputSerializer,
    PolicySerializer,
    PromotionInputSerializer,
    PromotionSerializer,
    RaciSerializer,
    ReviewSerializer,
)


class QuestionnaireView(APIView):
    @extend_schema(responses={200: OpenApiResponse(description="{scheme, questions, thresholds, ethics, tiers}")})
    def get(self, request):
        scheme = scheme_current()
        return Response({"scheme": scheme.number, **scheme.data, "tiers": defaults.TIERS})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiResponse(description="The new scheme version, same shape as GET")},
        description="Risk officers store a new version of the scoring: {questions: [{key, label, choices: "
        "[{key, label, score, min_tier?}]}], thresholds: [{tier, min_score}], ethics: [{key, label}]}.",
    )
    def put(self, request):
        scheme = scoring_scheme_update(actor=request.user, data=request.data)
        return Response({"scheme": scheme.number, **scheme.data, "tiers": defaults.TIERS})


class ClassificationView(APIView):
    """The current classification of a use case; PUT answers the questionnaire (risk officers may
    add `override_tier` with `override_justification`)."""

    def _use_case(self, pk):
        return get_object_or_404(UseCase, pk=pk)

    @extend_schema(responses={200: ClassificationSerializer, 404: OpenApiResponse(description="Not classified yet")})
    def get(self, request, pk):
        current = classification_current(use_case=self._use_case(pk))
        if current is None:
            raise NotFound("This use case is not classified yet.")
        return Response(ClassificationSerializer(current).data)

    @extend_schema(request=ClassificationInputSerializer, responses={
        200: ClassificationSerializer,
        202: OpenApiResponse(ProposalSerializer, description="A proposal waiting for a risk officer (the owner lowered the tier, or classified it first)"),
    })
    def put(self, request, pk):
        use_case = self._use_case(pk)
        data = ClassificationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        # One service, one transaction: an invalid override stores nothing.
        result = classification_set(
            actor=request.user, use_case=use_case, answers=fields["answers"], ethics=fields.get("ethics"),
            override_tier=fields.get("override_tier"), override_justification=fields.get("override_justification", ""),
        )
        return _result(result, ClassificationSerializer)


def _result(result, serializer, body=None):
    """200 with the changed object, or 202 with the proposal that waits for a risk officer."""
    if isinstance(result, Proposal):
        return Response({"proposal": ProposalSerializer(result).data}, status=202)
    return Response(body(result) if body else serializer(result).data)


def _raci_body(raci):
    names = {}
    ids = {i for people in raci.assignments.values() for i in people}
    if ids:
        names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    return {
        "use_case": raci.use_case_id,
        "tasks": defaults.RACI_TASKS,
        "roles": defaults.RACI_ROLES,
        "cells": raci.cells,
        "assignments": {role: sorted(names.get(i, str(i)) for i in people) for role, people in raci.assignments.items()},
        "is_default": raci.pk is None,
    }


class RaciView(APIView):
    @extend_schema(responses={200: RaciSerializer})
    def get(self, request, pk):
        return Response(_raci_body(raci_for(use_case=get_object_or_404(UseCase, pk=pk))))

    @extend_schema(request=RaciSerializer, responses={200: RaciSerializer})
    def put(self, request, pk):
        use_case = get_object_or_404(UseCase, pk=pk)
        data = RaciSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _result(raci_update(actor=request.user, use_case=use_case, **data.validated_data), None, _raci_body)


class ProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Changes to governance data (classification, RACI approvers, model moves) waiting for a
    risk officer other than the proposer. `?status=pending&mine_to_decide=true` lists what the
    caller may decide."""

    serializer_class = ProposalSerializer
    filterset_fields = ["status", "kind", "use_case"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if self.request.query_params.get("mine_to_decide") == "true":
            return proposals_pending(user=self.request.user)
        return Proposal.objects.select_related("use_case", "model", "target_use_case", "proposed_by", "decided_by").order_by("-created_at", "-pk")

    def _detail(self, proposal):
        return Response(ProposalSerializer(Proposal.objects.select_related(
            "use_case", "model", "target_use_case", "proposed_by", "decided_by").get(pk=proposal.pk)).data)

    @extend_schema(request=CommentSerializer, responses={200: ProposalSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._detail(proposal_confirm(actor=request.user, proposal=self.get_object(), comment=data.validated_data["comment"]))

    @extend_schema(request=CommentSerializer, responses={200: ProposalSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._detail(proposal_reject(actor=request.user, proposal=self.get_object(), comment=data.validated_data["comment"]))

    @extend_schema(request=None, responses={200: ProposalSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._detail(proposal_withdraw(actor=request.user, proposal=self.get_object()))


class GateExceptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Risk officers' time-limited exceptions to one gate for one version or use case."""

    serializer_class = GateExceptionSerializer
    filterset_fields = ["gate", "version", "use_case"]
    ordering_fields = ["granted_at", "expires_at"]

    def get_queryset(self):
        return GateException.objects.select_related("version__model", "use_case", "granted_by", "revoked_by").order_by("-granted_at", "-pk")

    @extend_schema(request=GateExceptionInputSerializer, responses={201: GateExceptionSerializer})
    def create(self, request):
        data = GateExceptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        version = None
        if fields.get("model"):
            version = ModelVersion.objects.select_related("model__use_case").filter(
                model__name=fields.pop("model"), number=fields.pop("version", None)).first()
            if version is None:
                raise NotFound("No such model version.", fields={"version": ["Unknown model version."]})
        fields.pop("model", None)
        fields.pop("version", None)
        exception = gate_exception_grant(actor=request.user, version=version, **fields)
        return Response(GateExceptionSerializer(self.get_queryset().get(pk=exception.pk)).data, status=201)

    @extend_schema(request=None, responses={200: GateExceptionSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        exception = gate_exception_revoke(actor=request.user, exception=self.get_object())
        return Response(GateExceptionSerializer(self.get_queryset().get(pk=exception.pk)).data)


class PolicyView(APIView):
    """The policy matrix in force; PUT stores the next version."""

    @extend_schema(responses={200: PolicySerializer})
    def get(self, request):
        return Response({**PolicySerializer(policy_current()).data, "considerations": defaults.CONSIDERATIONS})

    @extend_schema(request=PolicyInputSerializer, responses={200: PolicySerializer})
    def put(self, request):
        data = PolicyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = policy_update(actor=request.user, **data.validated_data)
        return Response(PolicySerializer(policy).data)


class PolicyVersionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PolicySerializer
    lookup_field = "number"
    filterset_fields = ["number"]
    ordering_fields = ["number"]

    def get_queryset(self):
        return Policy.objects.select_related("created_by").order_by("-number")


class PromotionFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="version__model__name")
    version = django_filters.NumberFilter(field_name="version__number")

    class Meta:
        model = PromotionRequest
        fields = ["model", "version", "status", "target_stage"]


class PromotionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PromotionSerializer
    filterset_class = PromotionFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return PromotionRequest.objects.select_related("version__model", "requester", "policy").prefetch_related(
            Prefetch("signoffs", queryset=SignOff.objects.select_related("approver", "policy"))
        ).order_by("-created_at", "-pk")

    def get_serializer_context(self):
        # The checklist runs gate checks; lists stay cheap and show it on the detail.
        return {**super().get_serializer_context(), "with_checklist": self.action != "list"}

    def _detail(self, promotion, status=200):
        promotion = self.get_queryset().get(pk=promotion.pk)
        return Response(self.get_serializer(promotion).data, status=status)

    @extend_schema(request=PromotionInputSerializer, responses={201: PromotionSerializer})
    def create(self, request):
        data = PromotionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        version = ModelVersion.objects.filter(model__name=fields["model"], number=fields["version"]).first()
        if version is None:
            raise NotFound(f"No version {fields['version']} of model {fields['model']!r}.",
                           fields={"version": ["Unknown model version."]})
        promotion = promotion_request(
            actor=request.user, version=version, target_stage=fields["target_stage"], reason=fields.get("reason", "")
        )
        return self._detail(promotion, status=201)

    @extend_schema(request=CommentSerializer, responses={200: PromotionSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promotion = signoff_approve(promotion=self.get_object(), actor=request.user, comment=data.validated_data["comment"])
        return self._detail(promotion)

    @extend_schema(request=CommentSerializer, responses={200: PromotionSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promotion = promotion_reject(promotion=self.get_object(), actor=request.user, comment=data.validated_data["comment"])
        return self._detail(promotion)

    @extend_schema(request=None, responses={200: PromotionSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        promotion = promotion_withdraw(promotion=self.get_object(), actor=request.user)
        return self._detail(promotion)

    @extend_schema(request=None, responses={200: PromotionSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        promotion = promotion_complete(promotion=self.get_object(), actor=request.user)
        return self._detail(promotion)


class ReviewFilter(django_filters.FilterSet):
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    model = django_filters.CharFilter(field_name="version__model__name")

    class Meta:
        model = Review
        fields = ["status", "model", "overdue"]

    def filter_overdue(self, queryset, name, value):
        today = timezone.localdate()
        if value:
            return queryset.filter(status=Review.Status.OPEN, due_date__lt=today)
        return queryset.exclude(status=Review.Status.OPEN, due_date__lt=today)


class ReviewViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    ordering_fields = ["due_date", "created_at"]

    def get_queryset(self):
        return Review.objects.select_related("version__model", "completed_by").order_by("due_date", "pk")

    @extend_schema(request=CommentSerializer, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = review_complete(actor=request.user, review=self.get_object(), note=data.validated_data["comment"])
        return Response(ReviewSerializer(self.get_queryset().get(pk=review.pk)).data)


def _version(name, number):
    return get_object_or_404(ModelVersion.objects.select_related("model__use_case"), model__name=name, number=number)


class ModelCardView(APIView):
    """The generated model card (JSON); PUT edits its free-text sections."""

    @extend_schema(responses={200: OpenApiResponse(description="Model card data")})
    def get(self, request, name, number):
        return Response(model_card_data(version=_version(name, number)))

    @extend_schema(request=ModelCardTextSerializer, responses={200: OpenApiResponse(description="Model card data")})
    def put(self, request, name, number):
        version = _version(name, number)
        data = ModelCardTextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model_card_update(actor=request.user, version=version, **data.validated_data)
        return Response(model_card_data(version=version))


class ModelCardMarkdownView(APIView):
    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR})
    def get(self, request, name, number):
        version = _version(name, number)
        response = HttpResponse(model_card_markdown(model_card_data(version=version)), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{version.model.name}-v{version.number}-model-card.md"'
        return response
