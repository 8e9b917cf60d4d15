from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.models import UseCase

from .approvals import slots
from .checklist import promotion_checklist
from .models import Classification, GateException, Policy, PromotionRequest, Review, SignOff
from .policy import with_generated_texts
from .shapes import PolicyShape, RaciAssignmentsShape, RaciCellsShape


class ClassificationInputSerializer(serializers.Serializer):
    answers = serializers.DictField(child=serializers.CharField(), help_text="{question key: answer key}")
    ethics = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    override_tier = serializers.IntegerField(required=False, min_value=1, max_value=4, help_text="Risk officers only")
    override_justification = serializers.CharField(required=False, allow_blank=True)


class ClassificationSerializer(serializers.ModelSerializer):
    tier = serializers.IntegerField(read_only=True)
    scheme = serializers.IntegerField(source="scheme.number", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    overridden_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    confirmed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Classification
        fields = [
            "id", "tier", "computed_tier", "score", "drivers", "answers", "ethics", "override_tier",
            "override_justification", "overridden_by", "scheme", "created_by", "confirmed_by", "created_at",
        ]


# JSON the service validates against a shape (governance.shapes), naming the part at fault
# (`cells.deployments`, `tiers.2.sign_off`); the schema shows the shape.
@extend_schema_field(RaciCellsShape)
class RaciCellsField(serializers.JSONField):
    pass


@extend_schema_field(RaciAssignmentsShape)
class RaciAssignmentsField(serializers.JSONField):
    pass


@extend_schema_field(PolicyShape)
class PolicyDataField(serializers.JSONField):
    pass


class RaciSerializer(serializers.Serializer):
    cells = RaciCellsField(required=False, help_text="{task: {RACI role: '' | R | A | C | I | A/R}}")
    assignments = RaciAssignmentsField(required=False, help_text="{RACI role: [usernames]}")


class PolicyInputSerializer(serializers.Serializer):
    data = PolicyDataField(help_text="The matrix: measures per tier and consideration, review intervals, sign-off due days")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=300)


class PolicySerializer(serializers.ModelSerializer):
    # Null for the built-in first version (written by a migration, not a person).
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    data = serializers.SerializerMethodField()

    class Meta:
        model = Policy
        fields = ["number", "data", "comment", "created_by", "created_at"]

    def get_data(self, obj) -> dict:
        """The matrix with each approvals measure's text written from its structure (versions
        stored before texts were generated read the same as new ones)."""
        try:
            return with_generated_texts(obj.data)
        except (KeyError, AttributeError, TypeError):
            return obj.data


class PromotionInputSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField(min_value=1)
    target_stage = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class SignOffSerializer(serializers.ModelSerializer):
    approver = serializers.SlugRelatedField(slug_field="username", read_only=True)
    policy_version = serializers.IntegerField(source="policy.number", read_only=True)

    class Meta:
        model = SignOff
        fields = ["approver", "decision", "comment", "sha256", "policy_version", "approver_roles", "lapsed_at", "created_at"]


class SlotSerializer(serializers.Serializer):
    """One approval the move needs: the role, who filled it, who could (governance.approvals.slots)."""

    role = serializers.CharField()
    label = serializers.CharField()
    filled_by = serializers.SerializerMethodField()
    candidates = serializers.SerializerMethodField()

    def get_filled_by(self, slot) -> str | None:
        return slot.filled_by.get_username() if slot.filled_by else None

    def get_candidates(self, slot) -> list[str]:
        return [u.get_username() for u in slot.candidates]


class ChecklistItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    met = serializers.BooleanField()
    detail = serializers.CharField()
    evidence_url = serializers.CharField()
    consideration = serializers.CharField()
    params = serializers.DictField()
    exception = serializers.DictField(allow_null=True)


class PromotionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    policy_version = serializers.IntegerField(source="policy.number", read_only=True)
    signoffs = SignOffSerializer(many=True, read_only=True)
    checklist = serializers.SerializerMethodField()
    slots = serializers.SerializerMethodField()

    class Meta:
        model = PromotionRequest
        fields = [
            "id", "model", "version", "from_stage", "target_stage", "status", "requester", "tier",
            "policy_version", "sha256", "lineage_fingerprint", "reason", "signoffs", "checklist", "slots",
            "created_at", "decided_at",
        ]

    def get_slots(self, obj) -> list[dict]:
        if not self.context.get("with_checklist", True):
            return []
        return SlotSerializer(slots(obj, with_candidates=obj.status in PromotionRequest.ACTIVE), many=True).data

    def get_checklist(self, obj) -> list[dict]:
        if not self.context.get("with_checklist", True):
            return []
        return ChecklistItemSerializer(promotion_checklist(promotion=obj), many=True).data


class ReviewSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    completed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["id", "model", "version", "due_date", "status", "overdue", "note", "completed_by", "completed_at", "created_at"]

    def get_overdue(self, obj) -> bool:
        return obj.status == Review.Status.OPEN and obj.due_date < timezone.localdate()


class ModelCardTextSerializer(serializers.Serializer):
    intended_use = serializers.CharField(required=False, allow_blank=True)
    limitations = serializers.CharField(required=False, allow_blank=True)
    bias_report = serializers.JSONField(required=False, help_text="{subpopulation: {metric: number}}")


class GateExceptionInputSerializer(serializers.Serializer):
    gate = serializers.CharField()
    model = serializers.CharField(required=False, help_text="With `version`: the one model version excepted")
    version = serializers.IntegerField(required=False, min_value=1)
    use_case = serializers.PrimaryKeyRelatedField(queryset=UseCase.objects.all(), required=False, help_text="Or every version of a use case")
    justification = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField()


class GateExceptionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name", read_only=True, default=None)
    version_number = serializers.IntegerField(source="version.number", read_only=True, default=None)
    granted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    revoked_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    in_force = serializers.SerializerMethodField()

    class Meta:
        model = GateException
        fields = ["id", "gate", "model", "version_number", "version", "use_case", "justification", "expires_at",
                  "granted_by", "granted_at", "revoked_by", "revoked_at", "in_force"]

    def get_in_force(self, obj) -> bool:
        return obj.in_force(timezone.now())
