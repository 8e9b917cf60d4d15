from rest_framework import serializers

from .models import ApiToken, BackgroundJob


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at"]
        extra_kwargs = {
            "scope": {
                "required": False,
                "help_text": "read: GET only; write: the owner's rights. Default: write, or read "
                "for read-only users (auditors), who cannot have write tokens.",
            }
        }


class NewApiTokenSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="The token; shown only in this answer.")

    class Meta(ApiTokenSerializer.Meta):
        fields = ApiTokenSerializer.Meta.fields + ["key"]


class BackgroundJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = BackgroundJob
        fields = [
            "id", "kind", "status", "progress", "message", "result", "object_type", "object_id",
            "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    """The one error shape (core.api); every operation documents it for its error statuses."""

    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.JSONField(), help_text="{field: [messages]}; `non_field_errors` for the rest."
    )
    request_id = serializers.CharField(help_text="Also in the X-Request-ID header.")
