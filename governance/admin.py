"""Admin pages to look things up. Changes go through the services (API and portal), which check
permissions and write the audit trail, so these pages are read-only."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin

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
