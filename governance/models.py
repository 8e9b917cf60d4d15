from django.conf import settings
from django.db import models

from registry.models import ModelVersion, Stage, UseCase


class ScoringScheme(models.Model):
    """One version of the risk questionnaire and its scoring (data, edited by risk officers).

    Never updated in place: an edit adds the next version; the highest number is in force.
    """

    number = models.PositiveIntegerField(unique=True)
    data = models.JSONField(help_text="questions (with choice scores), thresholds, ethics questions")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self):
        return f"Scoring scheme v{self.number}"


class Classification(models.Model):
    """One risk classification of a use case. History is kept: the newest row is current."""

    use_case = models.ForeignKey(UseCase, on_delete=models.CASCADE, related_name="classifications")
    scheme = models.ForeignKey(ScoringScheme, on_delete=models.PROTECT, related_name="classifications")
    answers = models.JSONField()
    ethics = models.JSONField(default=dict, blank=True)
    score = models.IntegerField()
    computed_tier = models.PositiveSmallIntegerField()
    drivers = models.JSONField(default=list, blank=True)
    override_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    override_justification = models.TextField(blank=True)
    overridden_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The risk officer who confirmed the owner's proposal (empty when a risk officer made it).
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.use_case} tier {self.tier}"

    @property
    def tier(self) -> int:
        return self.override_tier or self.computed_tier


class Policy(models.Model):
    """One version of the policy matrix (tier × consideration → measures). Highest number in force."""

    number = models.PositiveIntegerField(unique=True)
    data = models.JSONField(help_text="tiers → considerations → measures; review_interval_days per tier")
    comment = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        verbose_name_plural = "policies"

    def __str__(self):
        return f"Policy v{self.number}"


class RaciMatrix(models.Model):
    """The RACI matrix of a use case: cells (task → role → R/A/C/I/A/R) and people per role."""

    use_case = models.OneToOneField(UseCase, on_delete=models.CASCADE, related_name="raci")
    cells = models.JSONField()
    # {raci_role: [user ids]}
    assignments = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"RACI of {self.use_case}"

    def people_for(self, task: str, letters: set[str]) -> set[int]:
        """User ids assigned to roles whose cell for `task` contains one of `letters` (A or R)."""
        ids = set()
        for role, value in self.cells.get(task, {}).items():
            if set(value.split("/")) & letters:
                ids.update(self.assignments.get(role, []))
        return ids


class PromotionRequest(models.Model):
    """A request to move a version to a stage, judged against the policy version in force when it
    was made, and bound to the artifact and lineage it was requested for."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved, gates missing"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        LAPSED = "lapsed", "Lapsed (artifact or lineage changed)"
        PROMOTED = "promoted", "Promoted"

    ACTIVE = (Status.OPEN, Status.APPROVED)

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="promotions")
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    target_stage = models.CharField(max_length=20, choices=Stage.choices)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promotion_requests")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="promotions")
    tier = models.PositiveSmallIntegerField()
    sha256 = models.CharField(max_length=64)
    lineage_fingerprint = models.CharField(max_length=64)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "target_stage"],
                condition=models.Q(status__in=["open", "approved"]),
                name="one_active_promotion_per_version_target",
            )
        ]

    def __str__(self):
        return f"{self.version} → {self.target_stage} (#{self.pk})"


class SignOff(models.Model):
    """An approver's decision on a promotion, bound to the artifact and the policy version."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    promotion = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="signoffs")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signoffs")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="+")
    # Roles the approver held and RACI roles they filled when signing (what their approval counts for).
    approver_roles = models.JSONField(default=list, blank=True)
    lapsed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["promotion", "approver"], name="one_signoff_per_approver")
        ]

    def __str__(self):
        return f"{self.approver} {self.decision} #{self.promotion_id}"


class Review(models.Model):
    """A periodic review of a production version, opened when the policy's interval falls due."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="reviews")
    due_date = models.DateField()
    # Why it was opened when not by the calendar (e.g. "evidence changed: dataset accounts@1").
    reason = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN, db_index=True)
    note = models.TextField(blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["version"], condition=models.Q(status="open"), name="one_open_review_per_version")
        ]

    def __str__(self):
        return f"Review of {self.version} due {self.due_date}"


class ModelCardText(models.Model):
    """Free-text sections of a version's model card, written by the model's data scientists."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="card_text")
    intended_use = models.TextField(blank=True)
    limitations = models.TextField(blank=True)
    # {subpopulation: {metric: number}}: performance across the groups the bias gate names.
    bias_report = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Card text of {self.version}"


class GateException(models.Model):
    """A risk officer's time-limited, justified exception to one gate, for one model version or
    for every version of one use case. A gate with an exception in force counts as met, with the
    exception shown on the checklist and the model card; it lapses on its own at `expires_at`."""

    gate = models.CharField(max_length=60)
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="gate_exceptions")
    use_case = models.ForeignKey(UseCase, null=True, blank=True, on_delete=models.CASCADE, related_name="gate_exceptions")
    justification = models.TextField()
    expires_at = models.DateTimeField()
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(version__isnull=False, use_case__isnull=True) | models.Q(version__isnull=True, use_case__isnull=False),
                name="gate_exception_one_scope",
            )
        ]

    def __str__(self):
        return f"Exception to {self.gate} for {self.version or self.use_case} until {self.expires_at:%Y-%m-%d}"

    def in_force(self, now) -> bool:
        return self.revoked_at is None and self.expires_at > now
