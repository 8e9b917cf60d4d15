from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "timestamp", "actor_username", "action", "object_type", "object_id", "object_repr", "request_id"]
    list_filter = ["action", "object_type", "timestamp"]
    search_fields = ["actor_username", "object_repr", "object_id", "request_id", "action"]
    date_hierarchy = "timestamp"
    ordering = ["-seq"]

    # The trail is append-only for everyone, administrators included.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
