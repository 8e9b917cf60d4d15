"""Admin pages to look things up. Changes go through the services (API and portal), which check
permissions and write the audit trail, so these pages are read-only."""

from django.contrib import admin

from core.roles import Role, has_role

from .models import (
    Classification,
    ModelCardText,
    Policy,
    PromotionRequest,
    RaciMatrix,
    Review,
    ScoringScheme,
    SignOff,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_view_permission(self, request, obj=None):
        # Risk officers, auditors and admins look governance records up; the roles are groups,
        # not Django model permissions.
        return request.user.is_staff and has_role(request.user, Role.RISK_OFFICER, Role.AUDITOR, Role.ADMIN)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ScoringScheme)
class ScoringSchemeAdmin(ReadOnlyAdmin):
    list_display = ["number", "created_by", "created_at"]


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ["number", "comment", "created_by", "created_at"]
    search_fields = ["comment"]


@admin.register(Classification)
class ClassificationAdmin(ReadOnlyAdmin):
    list_display = ["use_case", "computed_tier", "override_tier", "score", "created_by", "created_at"]
    list_filter = ["computed_tier", "override_tier"]
    search_fields = ["use_case__name", "override_justification"]
    list_select_related = ["use_case", "created_by"]


@admin.register(RaciMatrix)
class RaciMatrixAdmin(ReadOnlyAdmin):
    list_display = ["use_case", "updated_by", "updated_at"]
    search_fields = ["use_case__name"]
    list_select_related = ["use_case", "updated_by"]


class SignOffInline(admin.TabularInline):
    model = SignOff
    fields = ["approver", "decision", "comment", "sha256", "policy", "lapsed_at", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "requester", "tier", "policy", "created_at", "decided_at"]
    list_filter = ["status", "target_stage", "tier"]
    search_fields = ["version__model__name", "requester__username", "sha256"]
    list_select_related = ["version__model", "requester", "policy"]
    inlines = [SignOffInline]


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ["promotion", "approver", "decision", "policy", "lapsed_at", "created_at"]
    list_filter = ["decision"]
    search_fields = ["approver__username", "comment", "promotion__version__model__name"]
    list_select_related = ["promotion__version__model", "approver", "policy"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["version", "due_date", "status", "completed_by", "completed_at"]
    list_filter = ["status"]
    search_fields = ["version__model__name", "note"]
    list_select_related = ["version__model", "completed_by"]


@admin.register(ModelCardText)
class ModelCardTextAdmin(ReadOnlyAdmin):
    list_display = ["version", "updated_by", "updated_at"]
    search_fields = ["version__model__name", "intended_use", "limitations"]
    list_select_related = ["version__model", "updated_by"]
