"""Data-subject rights: key indexes, requests, and the retraining obligations they open."""

from django.conf import settings
from django.db import models
from django.urls import reverse

from registry.models import Dataset, ModelVersion, RegisteredModel, UseCase


class SubjectKeyIndex(models.Model):
    """The data-subject keys a dataset version contains, as salted hashes (HMAC-SHA256 with
    `STEWARD_SUBJECT_KEY_SECRET`); the raw identifiers are never stored. Written once by the
    dataset's owner: a different set of subjects is a new dataset version."""

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="subject_key_index")
    key_count = models.PositiveIntegerField()
    file_sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Subject keys of {self.dataset} ({self.key_count})"


class SubjectKey(models.Model):
    """One salted hash of a data-subject key in one dataset version."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="subject_keys")
    key_hash = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "key_hash"], name="subject_key_unique_per_dataset")]

    def __str__(self):
        return f"{self.key_hash[:12]}… in {self.dataset_id}"


class SubjectRequest(models.Model):
    """A data-subject request and the impact Steward computed when it was made (the receipt
    keeps that snapshot; obligations track what was done about it)."""

    class Kind(models.TextChoices):
        ACCESS = "access", "Access (Art. 15)"
        RECTIFICATION = "rectification", "Rectification (Art. 16)"
        ERASURE = "erasure", "Erasure (Art. 17)"
        RESTRICTION = "restriction", "Restriction of processing (Art. 18)"
        OBJECTION = "objection", "Objection to automated decision-making (Art. 21/22)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    reference = models.CharField(max_length=200, blank=True, help_text="Your case reference (no personal data).")
    subject_hash = models.CharField(max_length=64, blank=True, db_index=True)
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="subject_requests")
    note = models.TextField(blank=True)
    impact = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} request #{self.pk}"

    def get_absolute_url(self):
        return reverse("portal:privacy-request", args=[self.pk])


class Objection(models.Model):
    """An objection to automated decision-making, recorded against a use case flagged as making
    automated decisions about people, with the human review route it is sent to."""

    request = models.ForeignKey(SubjectRequest, on_delete=models.CASCADE, related_name="objections")
    use_case = models.ForeignKey(UseCase, on_delete=models.PROTECT, related_name="objections")
    human_review_route = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Objection to automated decisions of {self.use_case}"


class Obligation(models.Model):
    """Retrain a model without the affected data, or accept the risk (signed by the use case's
    Accountable and a risk officer, two people), by `due_date`. Opened by an erasure request or
    a passed retention date."""

    class Source(models.TextChoices):
        ERASURE = "erasure", "Erasure request"
        RETENTION = "retention", "Retention date passed"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RETRAINED = "retrained", "Closed: retrained without the data"
        ACCEPTED = "accepted", "Closed: risk accepted"

    source = models.CharField(max_length=12, choices=Source.choices)
    request = models.ForeignKey(SubjectRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="obligations")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="The dataset whose retention date passed.")
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="privacy_obligations")
    versions = models.ManyToManyField(ModelVersion, related_name="privacy_obligations",
                                      help_text="The versions trained or validated on the affected data.")
    affected_datasets = models.JSONField(default=list, help_text="Ids of the datasets a retrained version may not use.")
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    retrained_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "pk"]
        constraints = [
            # The retention task may run twice: one obligation per model and expired dataset.
            models.UniqueConstraint(fields=["model", "dataset"], condition=models.Q(source="retention"),
                                    name="one_retention_obligation_per_model_dataset"),
        ]

    def __str__(self):
        return f"Retrain {self.model.name} or accept the risk ({self.get_source_display().lower()})"

    def get_absolute_url(self):
        if self.request_id:
            return reverse("portal:privacy-request", args=[self.request_id]) + f"#obligation-{self.pk}"
        return reverse("portal:privacy-obligations") + f"#obligation-{self.pk}"


class Signature(models.Model):
    """One signature of a risk acceptance, in the capacity it was given."""

    class Capacity(models.TextChoices):
        ACCOUNTABLE = "accountable", "Accountable (RACI)"
        RISK_OFFICER = "risk_officer", "Risk officer"

    obligation = models.ForeignKey(Obligation, on_delete=models.CASCADE, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    capacity = models.CharField(max_length=20, choices=Capacity.choices)
    statement = models.TextField()
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["signed_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["obligation", "signer"], name="one_signature_per_person"),
            models.UniqueConstraint(fields=["obligation", "capacity"], name="one_signature_per_capacity"),
        ]

    def __str__(self):
        return f"{self.signer} as {self.capacity} on obligation #{self.obligation_id}"
