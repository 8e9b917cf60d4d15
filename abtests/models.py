"""Experiments comparing a champion model version with challengers, their events and analyses.

An experiment is designed in `draft`, locked at start (`running`), ends `stopped` (early) or
`completed` (horizon reached), and is `decided` once a decision is recorded.
"""

from django.conf import settings
from django.db import models

from registry.models import ModelVersion, RegisteredModel


class Experiment(models.Model):
    class Kind(models.TextChoices):
        AB = "ab", "A/B test"
        SHADOW = "shadow", "Champion/challenger (shadow scoring)"

    class MetricType(models.TextChoices):
        BINARY = "binary", "Binary"
        CONTINUOUS = "continuous", "Continuous"

    class Direction(models.TextChoices):
        INCREASE = "increase", "Higher is better"
        DECREASE = "decrease", "Lower is better"

    class Splitting(models.TextChoices):
        RANDOM = "random", "Random per request"
        STICKY = "sticky", "Sticky per unit"

    class Test(models.TextChoices):
        TWO_PROPORTION_Z = "two_proportion_z", "Two-proportion z-test"
        WELCH_T = "welch_t", "Welch's t-test"
        MANN_WHITNEY_U = "mann_whitney_u", "Mann–Whitney U"
        MCNEMAR = "mcnemar", "McNemar"
        PAIRED_T = "paired_t", "Paired t-test"
        WILCOXON = "wilcoxon_signed_rank", "Wilcoxon signed-rank"

    class Alternative(models.TextChoices):
        TWO_SIDED = "two-sided", "Two-sided"
        LARGER = "larger", "Treatment larger"
        SMALLER = "smaller", "Treatment smaller"

    class Sequential(models.TextChoices):
        NONE = "none", "Fixed horizon"
        OBF = "obf", "Group-sequential, O'Brien–Fleming spending"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped early"
        COMPLETED = "completed", "Completed"
        DECIDED = "decided", "Decided"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="experiments")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.AB)
    # design
    metric_name = models.CharField(max_length=100, default="conversion")
    metric_type = models.CharField(max_length=12, choices=MetricType.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.INCREASE)
    secondary_metrics = models.JSONField(
        default=list, blank=True, help_text='[{"name": "revenue", "type": "continuous"}, …] (A/B only).'
    )
    population = models.TextField(blank=True, help_text="Filter description of who is in the experiment.")
    splitting = models.CharField(max_length=10, choices=Splitting.choices, default=Splitting.STICKY)
    salt = models.CharField(max_length=64)
    # protocol
    test = models.CharField(max_length=24, choices=Test.choices)
    alpha = models.FloatField(default=0.05)
    power = models.FloatField(default=0.8)
    mde = models.FloatField(help_text="Minimum detectable effect, absolute.")
    alternative = models.CharField(max_length=10, choices=Alternative.choices, default=Alternative.TWO_SIDED)
    baseline = models.FloatField(null=True, blank=True, help_text="Baseline rate (binary) or mean.")
    sd = models.FloatField(null=True, blank=True, help_text="Standard deviation (continuous).")
    daily_units = models.FloatField(null=True, blank=True)
    sequential = models.CharField(max_length=5, choices=Sequential.choices, default=Sequential.NONE)
    looks = models.PositiveSmallIntegerField(null=True, blank=True)
    # computed at design time by the same code as the plan endpoint
    n_per_arm = models.PositiveIntegerField(default=0)
    total_n = models.PositiveIntegerField(default=0)
    days = models.PositiveIntegerField(null=True, blank=True)
    # life
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_early = models.BooleanField(default=False)
    stop_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    @property
    def is_locked(self) -> bool:
        return self.status != self.Status.DRAFT


class Arm(models.Model):
    """One arm: the model version it serves and its share of traffic. Position 0 is the control."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    name = models.CharField(max_length=50)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="experiment_arms")
    weight = models.FloatField(default=1.0)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["experiment", "position"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="arm_name_unique_per_experiment"),
            models.UniqueConstraint(fields=["experiment", "position"], name="arm_position_unique_per_experiment"),
        ]

    def __str__(self):
        return f"{self.experiment} / {self.name}"


class EventBatch(models.Model):
    """One uploaded body; its SHA-256 makes re-uploading the same body a no-op."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="batches")
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=40)
    rows = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0, help_text="Rows stored; the rest were duplicate event ids.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["experiment", "sha256"], name="batch_sha_unique_per_experiment")]

    def __str__(self):
        return f"batch {self.sha256[:12]} ({self.rows} rows)"


class Event(models.Model):
    """One exposure with its outcome(s). A/B rows have an arm and `value`; shadow rows have both
    models' values for one request (`unit_id` holds the request id)."""

    id = models.BigAutoField(primary_key=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="events")
    arm = models.ForeignKey(Arm, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    batch = models.ForeignKey(EventBatch, on_delete=models.CASCADE, related_name="events")
    unit_id = models.CharField(max_length=200)
    event_id = models.CharField(max_length=200)
    value = models.FloatField(null=True, blank=True)
    champion_value = models.FloatField(null=True, blank=True)
    challenger_value = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(null=True, blank=True, help_text="Secondary metric values by name.")
    timestamp = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "event_id"], name="event_id_unique_per_experiment")
        ]
        indexes = [
            # covering index for the per-arm GROUP BY aggregates and the value ranks
            models.Index(fields=["experiment", "arm", "value"], name="abtests_event_arm_value"),
            # the planned horizon: an arm's n-th event in event-time order (abtests.horizon)
            models.Index(fields=["experiment", "arm", "timestamp", "id"], name="abtests_event_arm_time"),
        ]

    def __str__(self):
        return self.event_id


class Analysis(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        INTERIM = "interim", "Interim (progress and data quality only)"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="analyses")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    job = models.ForeignKey("core.BackgroundJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=10, default="request", help_text="request or beat")
    results = models.JSONField(default=dict, blank=True)
    code_version = models.JSONField(default=dict, blank=True)
    input_counts = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "analyses"

    def __str__(self):
        return f"analysis #{self.pk} of {self.experiment_id} ({self.status})"


class Decision(models.Model):
    class Outcome(models.TextChoices):
        ADOPT = "adopt_challenger", "Adopt challenger"
        KEEP = "keep_champion", "Keep champion"
        INCONCLUSIVE = "inconclusive", "Inconclusive"

    experiment = models.OneToOneField(Experiment, on_delete=models.CASCADE, related_name="decision")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    rationale = models.TextField()
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Adopted challenger."
    )
    analysis = models.ForeignKey(Analysis, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    signers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="experiment_decisions")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    promotion_ref = models.CharField(max_length=64, blank=True, help_text="Promotion request opened on adopt.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.get_outcome_display()} ({self.experiment_id})"
