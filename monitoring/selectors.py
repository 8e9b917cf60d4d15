"""Reads other parts of Steward use (the dashboard, the inventory)."""

from registry.models import ModelVersion

from .models import Alert, Monitor


def open_alerts(user=None):
    """Alerts not yet closed, newest first (every role reads the inventory, so all of them)."""
    return (Alert.objects.exclude(status=Alert.Status.CLOSED)
            .select_related("version__model", "check_run").order_by("-created_at", "-pk"))


def versions_with_alerts():
    """Inventory filter hook: `ModelVersion.objects.filter(pk__in=versions_with_alerts())`."""
    return Alert.objects.exclude(status=Alert.Status.CLOSED).values("version_id")


def models_with_alerts():
    return Alert.objects.exclude(status=Alert.Status.CLOSED).values("version__model_id")


def drift_statuses(versions) -> dict:
    """{version id: (drift status, retraining recommended)} for a page of versions, one query."""
    ids = [v.pk if isinstance(v, ModelVersion) else v for v in versions]
    return {vid: (status, flag) for vid, status, flag in
            Monitor.objects.filter(version_id__in=ids).values_list("version_id", "drift_status", "retraining_recommended")}
