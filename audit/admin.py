from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from .exports import EXPORT_PERMISSION, audit_export
from .models import AuditEvent
from .selectors import audit_sees_sensitive, events_visible_to
from .verify import audit_chain_verify


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The trail for auditors: filters, the chain's verification status and export of a selection."""

    list_display = ["seq", "timestamp", "actor_username", "action", "object_type", "object_id", "object_repr", "request_id"]
    list_filter = ["actor_username", "object_type", "action", "timestamp"]
    search_fields = ["actor_username", "object_repr", "object_id", "request_id", "action"]
    date_hierarchy = "timestamp"
    ordering = ["-seq"]
    actions = ["export_csv", "export_jsonl"]

    # The trail is append-only for everyone, administrators included.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return events_visible_to(request.user)

    def get_exclude(self, request, obj=None):
        return None if audit_sees_sensitive(request.user) else ["source_ip"]

    def has_export_permission(self, request):
        return request.user.has_perm(EXPORT_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            # Verified on every view, never cached: the status shown is the chain as it is now.
            extra_context = {**(extra_context or {}), "chain_report": audit_chain_verify()}
        return super().changelist_view(request, extra_context)

    @admin.action(description="Export selected as CSV", permissions=["export"])
    def export_csv(self, request, queryset):
        return self._export(request, queryset, "csv")

    @admin.action(description="Export selected as JSON lines", permissions=["export"])
    def export_jsonl(self, request, queryset):
        return self._export(request, queryset, "jsonl")

    def _export(self, request, queryset, fmt):
        filters = dict(request.GET.items())  # the changelist's filters, kept in the action's URL
        if request.POST.get("select_across") != "1" and request.POST.getlist(ACTION_CHECKBOX_NAME):
            filters["selected_ids"] = sorted(queryset.values_list("id", flat=True))
        return audit_export(actor=request.user, queryset=queryset, fmt=fmt, filters=filters, via="admin")
