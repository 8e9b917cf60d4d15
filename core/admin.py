from django.contrib import admin

from .models import ApiToken, BackgroundJob


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request):
        return False  # tokens are created through the API or `create_api_token`, which show the key


@admin.register(BackgroundJob)
class BackgroundJobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "progress", "object_type", "object_id", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    search_fields = ["object_id", "message"]
