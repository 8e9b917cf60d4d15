"""Bias reports: the sensitive attributes a use case names, evaluation sets, and the reports
computed from them. Reports are never edited: a new upload or recomputation makes a new one, and
the newest completed report of a version is its evidence (see `gates.py`)."""

from django.conf import settings
from django.db import models

from registry.models import ModelVersion, UseCase


class SensitiveAttributes(models.Model):
    """The sensitive or segment attributes (columns of the evaluation set) that every bias
    report of the use case's models must cover, and the pairs to cross (intersections)."""

    use_case = models.OneToOneField(UseCase, on_delete=models.CASCADE, related_name="sensitive_attributes")
    attributes = models.JSONField(default=list)
    intersections = models.JSONField(default=list, help_text="[[attribute, attribute], ...]")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.use_case}: {', '.join(self.attributes)}"


class EvaluationSet(models.Model):
    """An uploaded evaluation set (validated row by row before it was stored)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        PARQUET = "parquet", "Parquet"

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="evaluation_sets")
    file = models.FileField(upload_to="fairness/evaluation-sets/")
    filename = models.CharField(max_length=255)
    format = models.CharField(max_length=10, choices=Format.choices)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    rows = models.BigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.filename} ({self.sha256[:12]})"


class BiasReport(models.Model):
    """One computation of the fairness metrics of a version on an evaluation set, bound to the
    version's artifact SHA-256 and the set's SHA-256, with the thresholds it was judged by."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="bias_reports")
    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.PROTECT, related_name="reports")
    artifact_sha256 = models.CharField(max_length=64)
    evaluation_sha256 = models.CharField(max_length=64)
    attributes = models.JSONField(default=list)
    intersections = models.JSONField(default=list)
    thresholds = models.JSONField(default=dict)
    tier = models.PositiveSmallIntegerField()
    policy_number = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    results = models.JSONField(default=dict, blank=True)
    passed = models.BooleanField(null=True)
    error = models.TextField(blank=True)
    job = models.ForeignKey("core.BackgroundJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"bias report #{self.pk} of {self.version}"
