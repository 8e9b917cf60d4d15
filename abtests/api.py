"""REST API of experiments. Views validate, call one service, serialise the result."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from core.errors import InvalidInput
from registry.models import ModelVersion, RegisteredModel

from . import analyses, decisions, ingest, lifecycle, planning
from .models import Analysis, Arm, Decision, Experiment


class PlanSerializer(serializers.Serializer):
    metric_type = serializers.ChoiceField(choices=Experiment.MetricType.choices)
    baseline = serializers.FloatField(required=False, allow_null=True)
    sd = serializers.FloatField(required=False, allow_null=True)
    mde = serializers.FloatField()
    alpha = serializers.FloatField(default=0.05)
    power = serializers.FloatField(default=0.8)
    alternative = serializers.ChoiceField(choices=Experiment.Alternative.choices, default="two-sided")
    allocation = serializers.ListField(child=serializers.FloatField(), required=False, allow_null=True)
    daily_units = serializers.FloatField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=Experiment.Kind.choices, default="ab")
    sequential = serializers.ChoiceField(choices=Experiment.Sequential.choices, default="none")
    looks = serializers.IntegerField(required=False, allow_null=True, min_value=2, max_value=50)


class PlanLookSerializer(serializers.Serializer):
    look = serializers.IntegerField()
    fraction = serializers.FloatField()
    arm_sizes = serializers.ListField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    day = serializers.IntegerField(allow_null=True)


class PlanResultSerializer(serializers.Serializer):
    n = serializers.FloatField(help_text="Fixed-horizon n per arm, real.")
    n_fixed_per_arm = serializers.IntegerField()
    inflation = serializers.FloatField(help_text="Maximum-sample inflation of the sequential looks (1 for a fixed horizon).")
    n_per_arm = serializers.IntegerField(help_text="Planned (maximum) units per arm.")
    arm_sizes = serializers.ListField(child=serializers.IntegerField())
    total_n = serializers.IntegerField()
    pairs = serializers.IntegerField(allow_null=True, help_text="Shadow experiments: planned pairs.")
    days = serializers.IntegerField(allow_null=True)
    looks = PlanLookSerializer(many=True, help_text="Cumulative units per arm at each planned look.")
    method = serializers.CharField()
    conventions = serializers.CharField()


class ArmSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number")

    class Meta:
        model = Arm
        fields = ["name", "version", "weight", "position"]


class ExperimentSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    arms = ArmSerializer(many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = Experiment
        fields = [
            "id", "name", "description", "model", "kind", "arms", "metric_name", "metric_type", "direction",
            "secondary_metrics", "population", "splitting", "salt", "test", "alpha", "power", "mde", "alternative",
            "baseline", "sd", "daily_units", "sequential", "looks", "n_per_arm", "total_n", "days", "status",
            "started_at", "stopped_at", "stopped_early", "stop_reason", "created_by", "created_at", "updated_at",
        ]


class SecondaryMetricSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=Experiment.MetricType.choices)


class ExperimentWriteSerializer(serializers.Serializer):
    """Versions are given by their numbers within `model`; the control (champion) comes first."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    model = serializers.CharField(help_text="Registered model name.")
    kind = serializers.ChoiceField(choices=Experiment.Kind.choices, default="ab")
    champion = serializers.IntegerField(help_text="Version number of the champion (control).")
    challengers = serializers.ListField(child=serializers.IntegerField(), min_length=1)
    arm_names = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    allocation = serializers.ListField(child=serializers.FloatField(min_value=0), required=False)
    metric_name = serializers.CharField(max_length=100, default="conversion")
    metric_type = serializers.ChoiceField(choices=Experiment.MetricType.choices)
    direction = serializers.ChoiceField(choices=Experiment.Direction.choices, default="increase")
    secondary_metrics = SecondaryMetricSerializer(many=True, required=False)
    population = serializers.CharField(required=False, allow_blank=True)
    splitting = serializers.ChoiceField(choices=Experiment.Splitting.choices, default="sticky")
    salt = serializers.CharField(max_length=64, required=False, allow_blank=True)
    test = serializers.ChoiceField(choices=Experiment.Test.choices)
    alpha = serializers.FloatField(default=0.05)
    power = serializers.FloatField(default=0.8)
    mde = serializers.FloatField()
    alternative = serializers.ChoiceField(choices=Experiment.Alternative.choices, default="two-sided")
    baseline = serializers.FloatField(required=False, allow_null=True)
    sd = serializers.FloatField(required=False, allow_null=True)
    daily_units = serializers.FloatField(required=False, allow_null=True)
    sequential = serializers.ChoiceField(choices=Experiment.Sequential.choices, default="none")
    looks = serializers.IntegerField(required=False, allow_null=True, min_value=2, max_value=50)


def _versions(model: RegisteredModel, data: dict) -> dict:
    """Turn version numbers into versions of `model` (400 naming the missing ones)."""
    out = {}
    numbers = {v.number: v for v in ModelVersion.objects.filter(model=model)}
    if "champion" in data:
        if data["champion"] not in numbers:
            raise InvalidInput("Unknown version.", fields={"champion": [f"{model.name} has no version {data['champion']}."]})
        out["champion"] = numbers[data.pop("champion")]
    if "challengers" in data:
        missing = [n for n in data["challengers"] if n not in numbers]
        if missing:
            raise InvalidInput("Unknown version.", fields={"challengers": [f"{model.name} has no version {n}." for n in missing]})
        out["challengers"] = [numbers[n] for n in data.pop("challengers")]
    return out


class AnalysisSerializer(serializers.ModelSerializer):
    class Meta:
        model = Analysis
        fields = ["id", "experiment", "status", "trigger", "job", "results", "code_version", "input_counts", "created_at", "finished_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        results = instance.results or {}
        # The fixed names scripts rely on, lifted to the top level.
        data["metrics"] = results.get("metrics", [])
        data["data_quality"] = results.get("data_quality", {})
        data["progress"] = results.get("progress", {})
        return data


class DecisionSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", allow_null=True, default=None)
    signers = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    decided_by = serializers.CharField(source="decided_by.username")

    class Meta:
        model = Decision
        fields = ["id", "experiment", "outcome", "rationale", "version", "analysis", "signers", "decided_by", "promotion_ref", "created_at"]


class StopSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class DecisionWriteSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Decision.Outcome.choices)
    rationale = serializers.CharField()
    version = serializers.IntegerField(required=False, allow_null=True, help_text="Challenger version number to adopt.")


class ExperimentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ExperimentSerializer
    # A non-numeric id, or one past 64 bits (SQLite overflows on it), is no experiment: 404.
    lookup_value_regex = "[0-9]{1,18}"
    ordering_fields = ["created_at", "name"]
    search_fields = ["name", "description", "model__name"]
    filterset_fields = ["status", "kind", "model__name"]

    def get_queryset(self):
        return Experiment.objects.select_related("model", "created_by").prefetch_related("arms__version").order_by("-created_at")

    def _detail(self, exp, code=status.HTTP_200_OK):
        return Response(ExperimentSerializer(self.get_queryset().get(pk=exp.pk)).data, status=code)

    @extend_schema(request=ExperimentWriteSerializer, responses={201: ExperimentSerializer})
    def create(self, request, *args, **kwargs):
        data = ExperimentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        model = RegisteredModel.objects.filter(name=fields.pop("model")).first()
        if model is None:
            raise InvalidInput("Unknown model.", fields={"model": ["No registered model of this name."]})
        versions = _versions(model, fields)
        exp = lifecycle.experiment_create(actor=request.user, model=model, **versions, **fields)
        return self._detail(exp, status.HTTP_201_CREATED)

    @extend_schema(request=ExperimentWriteSerializer, responses={200: ExperimentSerializer})
    def partial_update(self, request, *args, **kwargs):
        exp = self.get_object()
        data = ExperimentWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "model" in fields and fields.pop("model") != exp.model.name:
            raise InvalidInput("The model of an experiment cannot change.", fields={"model": ["Create a new experiment."]})
        versions = _versions(exp.model, fields)
        exp = lifecycle.experiment_update(actor=request.user, experiment=exp, **versions, **fields)
        return self._detail(exp)

    @extend_schema(request=PlanSerializer, responses={200: PlanResultSerializer})
    @action(detail=False, methods=["post"])
    def plan(self, request):
        """Stateless sample-size and duration calculator (the same code as experiment design)."""
        data = PlanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(planning.plan_compute(**data.validated_data))

    @extend_schema(request=None, responses={200: ExperimentSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._detail(lifecycle.experiment_start(actor=request.user, experiment=self.get_object()))

    @extend_schema(request=StopSerializer, responses={200: ExperimentSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        data = StopSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reason = data.validated_data.get("reason", "")
        return self._detail(lifecycle.experiment_stop(actor=request.user, experiment=self.get_object(), reason=reason))

    @extend_schema(
        parameters=[OpenApiParameter("unit", str, required=True, description="Unit (sticky) or request (random) id.")],
        responses={200: inline_serializer("Assignment", {"unit": serializers.CharField(), "arm": serializers.CharField(),
                                                          "version": serializers.IntegerField()})},
    )
    @action(detail=True, methods=["get"])
    def assign(self, request, pk=None):
        exp = get_object_or_404(Experiment.objects.prefetch_related("arms__version"), pk=pk)
        unit = request.query_params.get("unit", "")
        arm = lifecycle.experiment_assign(experiment=exp, unit=unit)
        return Response({"unit": unit, "arm": arm.name, "version": arm.version.number, "experiment_status": exp.status})

    @extend_schema(
        request={"text/csv": OpenApiTypes.BINARY, "application/x-ndjson": OpenApiTypes.BINARY},
        responses={201: inline_serializer("BatchStored", {"batch": serializers.IntegerField(), "sha256": serializers.CharField(),
                                                           "rows": serializers.IntegerField(), "stored": serializers.IntegerField(),
                                                           "duplicate": serializers.BooleanField()})},
        description="CSV columns (A/B) `unit_id,arm,value[,event_id,timestamp,<secondary metrics>]`; shadow "
                    "`request_id,champion_value,challenger_value[,event_id,timestamp]`. NDJSON: one object per line "
                    "with the same keys. A re-upload of the same body answers 200 with `duplicate: true`.",
    )
    @action(detail=True, methods=["post"], parser_classes=[])
    def events(self, request, pk=None):
        exp = self.get_object()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) or None
        except ValueError:
            length = None
        batch, created = ingest.events_ingest(
            actor=request.user, experiment=exp, body=request._request, content_type=request.content_type,
            content_length=length,
        )
        return Response(
            {"batch": batch.pk, "sha256": batch.sha256, "rows": batch.rows, "stored": batch.stored, "duplicate": not created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=None, responses={202: AnalysisSerializer})
    @action(detail=True, methods=["post"])
    def analyses(self, request, pk=None):
        analysis = analyses.analysis_request(actor=request.user, experiment=self.get_object())
        return Response(AnalysisSerializer(analysis).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: AnalysisSerializer})
    @action(detail=True, methods=["get"], url_path=r"analyses/(?P<analysis_id>[0-9]{1,18})", url_name="analysis")
    def analysis(self, request, pk=None, analysis_id=None):
        analysis = get_object_or_404(Analysis, pk=analysis_id, experiment_id=pk)  # DRF's: a bad id is 404
        return Response(AnalysisSerializer(analysis).data)

    @extend_schema(request=DecisionWriteSerializer, responses={201: DecisionSerializer})
    @action(detail=True, methods=["post", "get"])
    def decision(self, request, pk=None):
        exp = self.get_object()
        if request.method == "GET":
            return Response(DecisionSerializer(get_object_or_404(Decision, experiment=exp)).data)
        data = DecisionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = None
        if data.validated_data.get("version") is not None:
            version = ModelVersion.objects.filter(model=exp.model, number=data.validated_data["version"]).first()
            if version is None:
                raise InvalidInput("Unknown version.", fields={"version": ["No such version of this model."]})
        decision = decisions.decision_record(
            actor=request.user, experiment=exp, outcome=data.validated_data["outcome"],
            rationale=data.validated_data["rationale"], version=version,
        )
        return Response(DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: DecisionSerializer})
    @action(detail=True, methods=["post"], url_path="decision/sign", url_name="decision-sign")
    def decision_sign(self, request, pk=None):
        decision = decisions.decision_sign(actor=request.user, experiment=self.get_object())
        return Response(DecisionSerializer(decision).data)
