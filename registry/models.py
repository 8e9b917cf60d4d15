import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

sha256_validator = RegexValidator(r"^[0-9a-f]{64}$", "Must be 64 lowercase hexadecimal characters (SHA-256).")
name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$",
    "Use letters, digits, '.', '_' and '-', starting with a letter or digit (it appears in URLs).",
)


def validate_finite_numbers(value):
    """Params/metrics are JSON objects whose numbers are finite (no NaN or infinity)."""

    def walk(v, path):
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return
        if isinstance(v, (int, float)):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValidationError(f"{path or 'value'}: numbers must be finite (got {v}).")
            return
        if isinstance(v, dict):
            for k, item in v.items():
                walk(item, f"{path}.{k}" if path else str(k))
            return
        if isinstance(v, list):
            for i, item in enumerate(v):
                walk(item, f"{path}[{i}]")
            return
        raise ValidationError(f"{path or 'value'}: unsupported value {v!r}.")

    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.")
    walk(value, "")


def validate_metrics(value):
    """Metrics are {name: finite number}: a string such as "NaN" is no measurement."""
    validate_finite_numbers(value)
    bad = [k for k, v in value.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
    if bad:
        raise ValidationError(f"{', '.join(map(str, bad))}: metrics must be finite numbers.")


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class UseCase(models.Model):
    """The business problem a model serves. Governance hangs its risk tier off it."""

    name = models.CharField(max_length=200, unique=True)
    purpose = models.TextField(blank=True)
    business_unit = models.CharField(max_length=120, blank=True, db_index=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="use_cases")
    # GDPR Art. 22: models of this use case make automated decisions about people; objections
    # to automated decision-making are recorded against it and sent to the human review route.
    automated_decisions = models.BooleanField(default=False)
    human_review_route = models.TextField(blank=True, help_text="How a person obtains human review of a decision.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Dataset(models.Model):
    """A versioned dataset with provenance and its personal-data status (GDPR)."""

    class LegalBasis(models.TextChoices):
        NONE = "", "Not applicable"
        CONSENT = "consent", "Consent (Art. 6(1)(a))"
        CONTRACT = "contract", "Contract (Art. 6(1)(b))"
        LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (Art. 6(1)(c))"
        VITAL_INTERESTS = "vital_interests", "Vital interests (Art. 6(1)(d))"
        PUBLIC_TASK = "public_task", "Public task (Art. 6(1)(e))"
        LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests (Art. 6(1)(f))"

    name = models.CharField(max_length=200, validators=[name_validator])
    version = models.CharField(max_length=50)
    description = models.TextField(blank=True)
    source_uri = models.CharField(max_length=1000, blank=True, help_text="Where the data came from.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="datasets")
    sha256 = models.CharField(max_length=64, blank=True, validators=[sha256_validator])
    contains_personal_data = models.BooleanField(default=False)
    legal_basis = models.CharField(max_length=30, choices=LegalBasis.choices, blank=True)
    retention_until = models.DateField(null=True, blank=True)
    collection_method = models.CharField(max_length=500, blank=True, help_text="How the data was collected.")
    personal_data_categories = models.JSONField(default=list, blank=True, help_text="e.g. [\"contact\", \"financial\"].")
    # Lineage between datasets: this one was derived from those (a graph without cycles).
    derived_from = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="derivatives")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="dataset_name_version_unique")]

    def __str__(self):
        return f"{self.name}@{self.version}"

    def clean(self):
        if self.contains_personal_data and not self.legal_basis:
            raise ValidationError({"legal_basis": "Required when the dataset holds personal data."})
        categories = self.personal_data_categories
        if not isinstance(categories, list) or not all(isinstance(c, str) and c.strip() for c in categories):
            raise ValidationError({"personal_data_categories": "A list of category names."})


class RegisteredModel(models.Model):
    """A named model in the inventory; its versions carry the artifacts."""

    name = models.CharField(max_length=200, unique=True, validators=[name_validator])
    description = models.TextField(blank=True, help_text="Markdown; rendered sanitised.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="models_owned")
    use_case = models.ForeignKey(UseCase, on_delete=models.PROTECT, related_name="models")
    tags = models.ManyToManyField(Tag, blank=True, related_name="models")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Stage(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    QA = "qa", "QA"
    PREPRODUCTION = "preproduction", "Pre-production"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


# The governed path towards production; archive is reachable from anywhere.
STAGE_ORDER = [Stage.DEVELOPMENT, Stage.QA, Stage.PREPRODUCTION, Stage.PRODUCTION]


def artifact_upload_to(instance, filename):
    return f"artifacts/{instance.model.name}/{instance.number}/{filename}"


class ModelVersion(models.Model):
    """One immutable training outcome of a registered model, with its lineage.

    `number` is assigned per model under a row lock (1, 2, 3… without gaps). `stage` changes only
    through the governance workflow.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Artifact check pending"
        VERIFIED = "verified", "Artifact verified"
        CORRUPT = "corrupt", "Artifact does not match its SHA-256"
        REFERENCED = "referenced", "External artifact (client SHA-256)"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    artifact = models.FileField(upload_to=artifact_upload_to, max_length=500, blank=True)
    artifact_uri = models.CharField(max_length=1000, blank=True)
    artifact_filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, validators=[sha256_validator])
    size = models.PositiveBigIntegerField(null=True, blank=True)
    framework = models.CharField(max_length=80, blank=True)
    input_signature = models.JSONField(default=dict, blank=True)
    training_datasets = models.ManyToManyField(Dataset, blank=True, related_name="trained_versions")
    validation_datasets = models.ManyToManyField(Dataset, blank=True, related_name="validated_versions")
    code_repository = models.CharField(max_length=500, blank=True)
    code_commit = models.CharField(max_length=64, blank=True)
    training_run = models.CharField(max_length=500, blank=True, help_text="Training run id or URI.")
    params = models.JSONField(default=dict, blank=True, validators=[validate_finite_numbers])
    metrics = models.JSONField(default=dict, blank=True, validators=[validate_metrics])
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.DEVELOPMENT, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    status_checked_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="versions")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="versions_created")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model__name", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="version_number_unique_per_model"),
            # The one-production-version invariant, enforced by the database as a last line.
            models.UniqueConstraint(
                fields=["model"], condition=models.Q(stage="production"), name="one_production_version_per_model"
            ),
        ]

    def __str__(self):
        return f"{self.model.name} v{self.number}"

    @property
    def has_uploaded_artifact(self) -> bool:
        return bool(self.artifact)


class Proposal(models.Model):
    """A change to governance data that waits for a risk officer other than its proposer.

    Owners propose; until a risk officer confirms, the previous state holds. Kinds: a use case's
    classification (`payload`: answers, ethics and the computed result), its RACI (`payload`:
    cells, assignments as user ids) and moving a model to another use case (`model`,
    `target_use_case`). Governance applies confirmed classification and RACI proposals; the
    registry applies model moves. A newer proposal of the same kind for the same object
    supersedes a pending one.
    """

    class Kind(models.TextChoices):
        CLASSIFICATION = "classification", "Risk classification"
        RACI = "raci", "RACI (who approves)"
        MODEL_MOVE = "model_move", "Move a model to another use case"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a risk officer"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        SUPERSEDED = "superseded", "Superseded by a newer proposal"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    use_case = models.ForeignKey(UseCase, on_delete=models.CASCADE, related_name="proposals")
    model = models.ForeignKey(RegisteredModel, null=True, blank=True, on_delete=models.CASCADE, related_name="proposals")
    target_use_case = models.ForeignKey(UseCase, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=500)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposals")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.model or self.use_case} (#{self.pk})"
