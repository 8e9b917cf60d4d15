"""What MLflow has and Steward's inventory lacks: key/value tags, aliases, staged uploads.

Registered models and versions are registry's; these rows only hang off them, so an object made
through either API is the same object in both.
"""

from django.conf import settings
from django.db import models

from registry.models import ModelVersion, RegisteredModel, Stage


class ModelTag(models.Model):
    """An MLflow key/value tag on a registered model (keys may hold dots, spaces, backticks)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="mlflow_tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="mlflow_model_tag_unique")]

    def __str__(self):
        return f"{self.model}: {self.key}={self.value}"


class VersionTag(models.Model):
    """An MLflow key/value tag on a model version."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="mlflow_tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="mlflow_version_tag_unique")]

    def __str__(self):
        return f"{self.version}: {self.key}={self.value}"


class Alias(models.Model):
    """A free (unprotected) alias: a name pointing at one version of a model.

    Protected aliases are not stored here: they are read from the stage they map to (see
    `ProtectedAlias`), so a promotion made in the portal moves them too.
    """

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="mlflow_aliases")
    alias = models.CharField(max_length=100)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="mlflow_aliases")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alias"]
        constraints = [models.UniqueConstraint(fields=["model", "alias"], name="mlflow_alias_unique")]

    def __str__(self):
        return f"{self.model}@{self.alias}"


class ProtectedAlias(models.Model):
    """An alias that names a governed stage: setting it is a promotion request.

    `champion` and `production` always map to production (`services.BUILTIN_PROTECTED`); risk
    officers add others here. The alias resolves to the newest version of the model in `stage`.
    """

    alias = models.CharField(max_length=100, unique=True)
    stage = models.CharField(max_length=20, choices=[c for c in Stage.choices if c[0] != Stage.DEVELOPMENT])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "protected aliases"

    def __str__(self):
        return f"{self.alias} → {self.stage}"


def staged_upload_to(instance, filename):
    return f"mlflow-staging/{instance.path}"


class StagedArtifact(models.Model):
    """A file PUT through the MLflow artifact proxy (`mlflow-artifacts:/<path>`), waiting to be
    named as the `source` of a model version. Write-once: a path is never overwritten, so the
    bytes a version was registered from cannot be swapped afterwards."""

    path = models.CharField(max_length=500, unique=True)
    file = models.FileField(upload_to=staged_upload_to, max_length=600)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]

    def __str__(self):
        return self.path
