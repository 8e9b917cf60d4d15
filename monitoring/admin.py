from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import (
    Alert,
    Batch,
    CheckPart,
    DriftCheck,
    FeatureDrift,
    Monitor,
    Prediction,
    ReferenceProfile,
)


@admin.register(Monitor)
class MonitorAdmin(ReadOnlyAdmin):
    list_display = ["version", "drift_status", "retraining_recommended", "schedule_minutes", "next_run_at", "stattest", "fdr_control"]
    list_filter = ["drift_status", "retraining_recommended"]


@admin.register(ReferenceProfile)
class ReferenceProfileAdmin(ReadOnlyAdmin):
    list_display = ["version", "rows", "sample_cap", "created_by", "created_at"]
    exclude = ["grid"]


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "version", "window_start", "window_end", "rows", "format", "created_by", "created_at"]
    exclude = ["summary"]


@admin.register(DriftCheck)
class DriftCheckAdmin(ReadOnlyAdmin):
    list_display = ["id", "version", "window_end", "trigger", "status", "drift_status", "drifted_features", "total_features"]
    list_filter = ["status", "drift_status", "trigger"]


@admin.register(FeatureDrift)
class FeatureDriftAdmin(ReadOnlyAdmin):
    list_display = ["check_run", "feature", "method", "statistic", "threshold", "drifted"]
    list_filter = ["drifted", "method"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["id", "version", "kind", "status", "created_at", "closed_by"]
    list_filter = ["kind", "status"]


admin.site.register(CheckPart, ReadOnlyAdmin)
admin.site.register(Prediction, ReadOnlyAdmin)
