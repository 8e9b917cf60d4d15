from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework import serializers

from core.limits import json_problem
from core.text import render_markdown

from .models import (
    Dataset,
    ModelVersion,
    Proposal,
    RegisteredModel,
    UseCase,
    validate_finite_numbers,
    validate_metrics,
)


class FiniteJSONObjectField(serializers.JSONField):
    """A JSON object whose numbers are finite. In multipart forms it arrives JSON-encoded."""

    validator = staticmethod(validate_finite_numbers)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        # JSON-encoded in a multipart form, it skipped the JSON parser's bounds.
        problem = json_problem(value)
        if problem:
            raise serializers.ValidationError([problem])
        try:
            self.validator(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


class MetricsField(FiniteJSONObjectField):
    """{metric: finite number}; "NaN", "inf" or any string is refused."""

    validator = staticmethod(validate_metrics)


class TagListField(serializers.ListField):
    child = serializers.SlugField(max_length=50)

    def to_representation(self, data):
        return sorted(t.name for t in data.all())


class UseCaseSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    model_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = UseCase
        fields = ["id", "name", "purpose", "business_unit", "automated_decisions", "human_review_route", "owner",
                  "model_count", "created_at", "updated_at"]
        # Uniqueness is checked by the service (409), not by a pre-flight query here.
        extra_kwargs = {"name": {"validators": []}}


class DatasetSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    trained_versions = serializers.SerializerMethodField()
    personal_data_categories = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    derived_from = serializers.PrimaryKeyRelatedField(
        queryset=Dataset.objects.all(), many=True, required=False,
        help_text="Ids of the datasets this one was derived from (no cycles). Lineage: /datasets/{id}/lineage/.")

    class Meta:
        model = Dataset
        fields = [
            "id", "name", "version", "description", "source_uri", "sha256", "contains_personal_data",
            "legal_basis", "retention_until", "collection_method", "personal_data_categories", "derived_from",
            "owner", "trained_versions", "created_at", "updated_at",
        ]
        validators = []

    def get_trained_versions(self, obj) -> list[dict]:
        """Lineage, dataset → versions: every model version trained on this dataset."""
        return [{"model": v.model.name, "number": v.number, "stage": v.stage} for v in obj.trained_versions.all()]

    def validate(self, attrs):
        personal = attrs.get("contains_personal_data", getattr(self.instance, "contains_personal_data", False))
        basis = attrs.get("legal_basis", getattr(self.instance, "legal_basis", ""))
        if personal and not basis:
            raise serializers.ValidationError({"legal_basis": ["Required when the dataset holds personal data."]})
        return attrs


class VersionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["number", "stage", "status", "sha256", "created_at"]


class RegisteredModelSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    use_case = serializers.PrimaryKeyRelatedField(queryset=UseCase.objects.all())
    use_case_name = serializers.CharField(source="use_case.name", read_only=True)
    tags = TagListField(required=False)
    description_html = serializers.SerializerMethodField()
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)
    production_version = serializers.IntegerField(read_only=True, allow_null=True)
    version_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = RegisteredModel
        fields = [
            "id", "name", "description", "description_html", "owner", "use_case", "use_case_name", "tags",
            "latest_version", "production_version", "version_count", "created_at", "updated_at",
        ]
        extra_kwargs = {"name": {"validators": []}}

    def get_description_html(self, obj) -> str:
        return render_markdown(obj.description)


class ModelVersionSerializer(serializers.ModelSerializer):
    """Read shape of a version (and the answer to a registration)."""

    model = serializers.CharField(source="model.name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    training_datasets = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    validation_datasets = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    tags = TagListField(read_only=True)
    artifact_url = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id", "model", "number", "description", "artifact_uri", "artifact_filename", "artifact_url",
            "sha256", "size", "framework", "input_signature", "training_datasets", "validation_datasets",
            "code_repository", "code_commit", "training_run", "params", "metrics", "stage", "status",
            "status_checked_at", "tags", "created_by", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_artifact_url(self, obj) -> str | None:
        if not obj.artifact:
            return None
        return reverse("api:version-artifact", kwargs={"name": obj.model.name, "number": obj.number})


class ModelVersionCreateSerializer(serializers.Serializer):
    """Registration input: multipart with `artifact`, or JSON with `artifact_uri` + `sha256`."""

    artifact = serializers.FileField(required=False, allow_empty_file=True)
    artifact_uri = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True,
                                    error_messages={"invalid": "Must be 64 hexadecimal characters (SHA-256)."})
    size = serializers.IntegerField(required=False, min_value=0, help_text="Size in bytes, for URI artifacts.")
    description = serializers.CharField(required=False, allow_blank=True)
    framework = serializers.CharField(required=False, allow_blank=True, max_length=80)
    input_signature = FiniteJSONObjectField(required=False)
    code_repository = serializers.CharField(required=False, allow_blank=True, max_length=500)
    code_commit = serializers.RegexField(r"^[0-9a-fA-F]{7,64}$", required=False, allow_blank=True,
                                         error_messages={"invalid": "Must be a hexadecimal commit hash (7–64 characters)."})
    training_run = serializers.CharField(required=False, allow_blank=True, max_length=500)
    training_datasets = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), many=True, required=False)
    validation_datasets = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), many=True, required=False)
    params = FiniteJSONObjectField(required=False)
    metrics = MetricsField(required=False)
    tags = serializers.ListField(child=serializers.SlugField(max_length=50), required=False)

    def validate(self, attrs):
        for key in ("params", "metrics", "input_signature"):
            if key in attrs and not isinstance(attrs[key], dict):
                raise serializers.ValidationError({key: ["Must be a JSON object."]})
        return attrs


class ModelVersionUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.SlugField(max_length=50), required=False)


class ProposalSerializer(serializers.ModelSerializer):
    """A change to governance data waiting for (or decided by) a risk officer."""

    # Plain strings (not enums) in the schema: "kind" and "status" name other enums already.
    kind = serializers.CharField(read_only=True, help_text="classification | raci | model_move")
    status = serializers.CharField(read_only=True, help_text="pending | confirmed | rejected | withdrawn | superseded")
    use_case_name = serializers.CharField(source="use_case.name", read_only=True)
    model = serializers.CharField(source="model.name", read_only=True, allow_null=True, default=None)
    target_use_case_name = serializers.CharField(source="target_use_case.name", read_only=True, allow_null=True, default=None)
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Proposal
        fields = [
            "id", "kind", "status", "summary", "use_case", "use_case_name", "model", "target_use_case",
            "target_use_case_name", "payload", "proposed_by", "created_at", "decided_by", "decided_at", "comment",
        ]
        read_only_fields = fields
