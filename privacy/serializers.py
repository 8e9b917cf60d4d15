from rest_framework import serializers

from registry.models import Dataset

from .models import SubjectRequest


class SubjectRequestInputSerializer(serializers.Serializer):
    # A plain string in the schema ("kind" names other enums already); the service checks it.
    kind = serializers.CharField(help_text="access | rectification | erasure | restriction | objection")
    subject_key = serializers.CharField(required=False, allow_blank=True, max_length=256, trim_whitespace=True,
                                        help_text="The data subject's key; hashed on arrival, never stored.")
    datasets = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), many=True, required=False)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200)
    note = serializers.CharField(required=False, allow_blank=True)


class SubjectRequestSerializer(serializers.ModelSerializer):
    """A request in lists; the detail is its receipt."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    kind = serializers.CharField(read_only=True, help_text="access | rectification | erasure | restriction | objection")

    class Meta:
        model = SubjectRequest
        fields = ["id", "kind", "reference", "created_by", "created_at"]
        read_only_fields = fields


class ReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    reference = serializers.CharField()
    subject_key_given = serializers.BooleanField()
    datasets_named = serializers.ListField(child=serializers.DictField())
    note = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    impact = serializers.DictField()
    obligations = serializers.ListField(child=serializers.DictField())
    open_obligations = serializers.IntegerField()
    objections = serializers.ListField(child=serializers.DictField())


class ObligationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    request = serializers.IntegerField(allow_null=True)
    dataset = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    use_case = serializers.CharField()
    versions = serializers.ListField(child=serializers.DictField())
    due_date = serializers.DateField()
    overdue = serializers.BooleanField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    retrained_version = serializers.IntegerField(allow_null=True)
    signatures = serializers.ListField(child=serializers.DictField())
    closed_at = serializers.DateTimeField(allow_null=True)


class SignInputSerializer(serializers.Serializer):
    statement = serializers.CharField(help_text="Which risk is accepted and why.")


class RetrainedInputSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="Number of the retrained version of the same model.")


class SubjectKeysUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="One data-subject key per line (UTF-8).")


class SubjectKeyIndexSerializer(serializers.Serializer):
    """The index's summary (`indexed` false and the rest empty for a dataset without one)."""

    dataset = serializers.IntegerField(source="dataset_id")
    indexed = serializers.SerializerMethodField()
    key_count = serializers.IntegerField()
    file_sha256 = serializers.CharField(allow_null=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", allow_null=True)
    uploaded_at = serializers.DateTimeField(allow_null=True)

    def get_indexed(self, obj) -> bool:
        return True


class LineageSerializer(serializers.Serializer):
    dataset = serializers.DictField()
    ancestors = serializers.ListField(child=serializers.DictField())
    descendants = serializers.ListField(child=serializers.DictField())
