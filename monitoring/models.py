from django.conf import settings
from django.db import models

from core.models import BackgroundJob
from registry.models import ModelVersion


class DriftStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    OK = "ok", "No drift"
    WARNING = "warning", "Some features drifted"
    DRIFT = "drift", "Dataset drift"


class Monitor(models.Model):
    """Monitoring of one model version: how drift is judged, when it is checked, where it stands.

    The test settings (method, thresholds, drift share, FDR control) decide what counts as drift,
    so only risk officers change them; the model's data scientists set the schedule and the task.
    """

    class Task(models.TextChoices):
        AUTO = "", "Infer from the labels"
        BINARY = "binary_classification", "Binary classification"
        REGRESSION = "regression", "Regression"

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="monitor")
    stattest = models.CharField(max_length=20, default="auto", help_text="auto (Evidently's rule) or one method for every feature")
    thresholds = models.JSONField(default=dict, blank=True, help_text="method → threshold, overriding the defaults")
    drift_share = models.FloatField(default=0.5)
    fdr_control = models.BooleanField(default=False, help_text="Benjamini–Hochberg over the p-value tests")
    fdr_alpha = models.FloatField(default=0.05)
    chunk_size = models.PositiveSmallIntegerField(default=10, help_text="features per worker task")
    task = models.CharField(max_length=30, choices=Task.choices, blank=True)
    score_threshold = models.FloatField(default=0.5, help_text="score from which a row is predicted positive")
    schedule_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="check every N minutes while deployed")
    window_hours = models.PositiveIntegerField(default=24, help_text="a scheduled check covers the last N hours")
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    drift_status = models.CharField(max_length=10, choices=DriftStatus.choices, default=DriftStatus.UNKNOWN)
    retraining_recommended = models.BooleanField(default=False)
    last_check = models.ForeignKey("DriftCheck", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Monitor of {self.version}"


class ReferenceProfile(models.Model):
    """What Steward keeps of a version's reference data (the upload itself is not kept).

    `features`: [{name, kind, source, n, missing, mean, std, sampled, distinct, counts}] with
    `counts` the category counts of categorical features; numeric grids (sorted distinct values
    and their counts) are in `grid`, an .npz archive.
    """

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="reference_profile")
    features = models.JSONField()
    grid = models.BinaryField()
    rows = models.PositiveBigIntegerField()
    sample_cap = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Reference of {self.version}"

    def feature(self, name: str) -> dict | None:
        return next((f for f in self.features if f["name"] == name), None)


class Batch(models.Model):
    """One upload of production rows for a time window, kept as mergeable summaries."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="monitoring_batches")
    sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=10)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    rows = models.PositiveBigIntegerField()
    # Numeric summaries on the reference grid (.npz); categorical counts, distinct-value counts,
    # missing counts and expected-confusion sums in `meta`.
    summary = models.BinaryField()
    meta = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-window_start", "-pk"]
        constraints = [models.UniqueConstraint(fields=["version", "sha256"], name="monitoring_batch_once")]
        indexes = [models.Index(fields=["version", "window_start", "window_end"])]

    def __str__(self):
        return f"Batch {self.pk} of {self.version} ({self.rows} rows)"


class Prediction(models.Model):
    """A production row with an id, kept for realized performance once its label arrives."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="predictions")
    row_id = models.CharField(max_length=100)
    window_start = models.DateTimeField()
    prediction = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    label = models.FloatField(null=True, blank=True)
    labelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "row_id"], name="monitoring_prediction_row_once")]
        indexes = [models.Index(fields=["version", "window_start"])]

    def __str__(self):
        return f"Row {self.row_id} of {self.version_id}"


class DriftCheck(models.Model):
    """One drift (and performance) check of a version over a time window, run by workers in
    parts of a few features each; the last part to finish assembles the verdict."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "On demand"
        SCHEDULE = "schedule", "Scheduled"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="drift_checks")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    config = models.JSONField(default=dict)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    batches = models.PositiveIntegerField(default=0)
    current_rows = models.PositiveBigIntegerField(default=0)
    drifted_features = models.PositiveIntegerField(default=0)
    total_features = models.PositiveIntegerField(default=0)
    share = models.FloatField(null=True, blank=True)
    dataset_drift = models.BooleanField(default=False)
    drift_status = models.CharField(max_length=10, choices=DriftStatus.choices, default=DriftStatus.UNKNOWN)
    performance = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Check {self.pk} of {self.version}"


class CheckPart(models.Model):
    """The features one worker task checks; `results` holds their raw per-feature results."""

    check_run = models.ForeignKey(DriftCheck, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveSmallIntegerField()
    features = models.JSONField()
    done = models.BooleanField(default=False)
    results = models.JSONField(default=list, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    job = models.ForeignKey(BackgroundJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["check_run", "index"], name="monitoring_part_once")]

    def __str__(self):
        return f"Part {self.index} of check {self.check_run_id}"


class FeatureDrift(models.Model):
    """The verdict for one feature in one check."""

    check_run = models.ForeignKey(DriftCheck, on_delete=models.CASCADE, related_name="features")
    feature = models.CharField(max_length=200)
    kind = models.CharField(max_length=12)
    method = models.CharField(max_length=20)
    statistic = models.FloatField(null=True)
    p_value = models.FloatField(null=True, blank=True)
    p_adjusted = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()
    drifted = models.BooleanField()
    drifted_adjusted = models.BooleanField(null=True)
    reference_n = models.PositiveBigIntegerField()
    current_n = models.PositiveBigIntegerField()
    psi = models.FloatField(null=True, blank=True)
    psi_band = models.CharField(max_length=10, blank=True)
    # {"bins": [...], "reference": [...], "current": [...]} on the reference deciles / categories.
    histogram = models.JSONField(default=dict)

    class Meta:
        ordering = ["feature"]
        constraints = [models.UniqueConstraint(fields=["check_run", "feature"], name="monitoring_feature_once")]

    def __str__(self):
        return f"{self.feature}: {'drift' if self.drifted else 'ok'}"


class Alert(models.Model):
    """A drift or degradation beyond the tier's threshold: a finding someone must acknowledge,
    and a risk officer close with a comment."""

    class Kind(models.TextChoices):
        DRIFT = "drift", "Data drift"
        DEGRADATION = "degradation", "Performance degradation"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLOSED = "closed", "Closed"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="monitoring_alerts")
    check_run = models.ForeignKey(DriftCheck, null=True, on_delete=models.SET_NULL, related_name="alerts")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    detail = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    close_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} alert on {self.version}"

    @property
    def is_active(self) -> bool:
        return self.status != self.Status.CLOSED
