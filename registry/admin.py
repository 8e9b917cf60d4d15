from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import Dataset, ModelVersion, RegisteredModel, Tag, UseCase


@admin.register(UseCase)
class UseCaseAdmin(ReadOnlyAdmin):
    list_display = ["name", "business_unit", "owner", "created_at"]
    list_filter = ["business_unit"]
    search_fields = ["name", "purpose", "business_unit"]


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ["name", "version", "owner", "contains_personal_data", "legal_basis", "retention_until"]
    list_filter = ["contains_personal_data", "legal_basis"]
    search_fields = ["name", "source_uri", "sha256"]


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ["number", "stage", "status", "sha256", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "use_case", "owner", "created_at"]
    list_filter = ["use_case", "tags"]
    search_fields = ["name", "description"]
    list_select_related = ["use_case", "owner"]
    inlines = [ModelVersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "stage", "status", "framework", "created_by", "created_at"]
    list_filter = ["stage", "status", "framework"]
    search_fields = ["model__name", "sha256", "code_commit", "training_run"]
    list_select_related = ["model", "created_by"]
    # Stage changes belong to the governance workflow, not to a form.
    readonly_fields = ["stage", "sha256", "size", "status", "status_checked_at"]


admin.site.register(Tag, ReadOnlyAdmin)
