from rest_framework import serializers

from .models import Classification, Policy, PromotionRequest, Review, SignOff


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

    class Meta:
        model = Classification
        fields = [
            "id", "tier", "computed_tier", "score", "drivers", "answers", "ethics", "override_tier",
            "override_justification", "overridden_by", "scheme", "created_by", "created_at",
        ]


class RaciSerializer(serializers.Serializer):
    cells = serializers.DictField(child=serializers.DictField(child=serializers.CharField(allow_blank=True)), required=False,
                                  help_text="{task: {raci role: '' | R | A | C | I | A/R}}")
    assignments = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                        help_text="{raci role: [usernames]}")


class PolicyInputSerializer(serializers.Serializer):
    data = serializers.JSONField(help_text="{tiers: {'1'..'4': {consideration: [{text, gate?, params?, stages?}]}}, review_interval_days: {'1'..'4': days}}")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=300)


class PolicySerializer(serializers.ModelSerializer):
    # Null for the built-in first version (written by a migration, not a person).
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Policy
        fields = ["number", "data", "comment", "created_by", "created_at"]


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


class ChecklistItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    met = serializers.BooleanField()
    detail = serializers.CharField()
    evidence_url = serializers.CharField()
    consideration = serializers.CharField()
    params = serializers.DictField()


class PromotionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    policy_version = serializers.IntegerField(source="policy.number", read_only=True)
    signoffs = SignOffSerializer(many=True, read_only=True)
    checklist = serializers.SerializerMethodField()

    class Meta:
        model = PromotionRequest
        fields = [
            "id", "model", "version", "from_stage", "target_stage", "status", "requester", "tier",
            "policy_version", "sha256", "lineage_fingerprint", "reason", "signoffs", "checklist",
            "created_at", "decided_at",
        ]

    def get_checklist(self, obj) -> list[dict]:
        if not self.context.get("with_checklist", True):
            return []
        from .services import promotion_checklist

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
        from django.utils import timezone

        return obj.status == Review.Status.OPEN and obj.due_date < timezone.localdate()


class ModelCardTextSerializer(serializers.Serializer):
    intended_use = serializers.CharField(required=False, allow_blank=True)
    limitations = serializers.CharField(required=False, allow_blank=True)
    bias_report = serializers.JSONField(required=False, help_text="{subpopulation: {metric: number}}")
