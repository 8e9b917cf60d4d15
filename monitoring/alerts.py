"""Raising alerts from a finished check: audit event, notification, retraining flag, finding,
and an early periodic review where the tier's policy asks for one.

Who is told: the people the use case's RACI matrix assigns to roles that are Accountable or
Responsible for its "monitoring" task; when nobody is assigned there, the model's owner and the
use case's owner. Mail goes out and the signed webhook (governance's `webhook_send`) is queued
after commit; a mail or broker failure is logged and never undoes the alert.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

from audit.services import audit_record
from governance.reviews import review_open_early
from governance.selectors import classification_current, policy_current, raci_for
from governance.tasks import webhook_send

from . import performance
from .models import Alert, Monitor
from .policy import tier_rules

logger = logging.getLogger(__name__)


def tier_of(version) -> int:
    classification = classification_current(use_case=version.model.use_case)
    return classification.tier if classification else 4  # unclassified: treated as strictest, as governance does


def rules_for(version) -> dict:
    return tier_rules(policy_current().data, tier_of(version))


def recipients(version) -> list:
    ids = raci_for(use_case=version.model.use_case).people_for("monitoring", {"A", "R"})
    if not ids:
        ids = {version.model.owner_id, version.model.use_case.owner_id}
    return list(get_user_model().objects.filter(pk__in=ids, is_active=True))


def alerts_raise(*, check, results, verdicts) -> list[Alert]:
    """Called inside the check's finishing transaction."""
    version = check.version
    rules = rules_for(version)
    raised = []
    drifted = [r for r, v in zip(results, verdicts, strict=True) if v]
    trigger = check.drift_status == "drift" or (rules["alert_on"] == "warning" and check.drift_status == "warning")
    if trigger:
        detail = (f"{check.drifted_features} of {check.total_features} features drifted "
                  f"(share {check.share:.2f}, dataset drift at {check.config.get('drift_share', 0.5):.2f}): "
                  + "; ".join(f"{r.feature} ({r.method} {r.statistic:.3g} vs {r.threshold:g})" for r in drifted[:10]))
        raised += _raise(version, check, Alert.Kind.DRIFT, detail, {"features": [r.feature for r in drifted]})
    perf = check.performance or {}
    realized, baseline = perf.get("realized") or {}, perf.get("baseline") or {}
    worse = {}
    for metric, base in baseline.items():
        drop = performance.degradation(metric, realized.get(metric), base)
        if drop is not None and drop > rules["max_metric_drop"]:
            worse[metric] = {"value": realized[metric], "baseline": base, "drop": drop}
    if worse:
        detail = "; ".join(f"{m} {w['value']:.4g} against {w['baseline']:.4g} at validation" for m, w in worse.items())
        raised += _raise(version, check, Alert.Kind.DEGRADATION,
                         f"Performance below validation by more than {rules['max_metric_drop']:g}: {detail}", {"metrics": worse})
    if raised:
        Monitor.objects.filter(version=version).update(retraining_recommended=True)
        if rules["early_review"]:
            review_open_early(version=version, reason=f"Monitoring alert: {raised[0].detail[:200]}")
    return raised


def _raise(version, check, kind, detail, data) -> list[Alert]:
    if Alert.objects.filter(version=version, kind=kind).exclude(status=Alert.Status.CLOSED).exists():
        return []  # one active finding per kind; the check itself records the new evidence
    alert = Alert.objects.create(version=version, check_run=check, kind=kind, detail=detail, data=data)
    audit_record(action="monitoring.alert_raise", obj=alert, changes={
        "kind": {"before": None, "after": kind}, "detail": {"before": None, "after": detail},
        "retraining_recommended": {"before": None, "after": True}})
    transaction.on_commit(lambda: notify(alert_id=alert.pk))
    return [alert]


def notify(*, alert_id: int) -> None:
    alert = Alert.objects.select_related("version__model__use_case").get(pk=alert_id)
    version = alert.version
    base = settings.STEWARD_BASE_URL.rstrip("/")
    url = f"{base}/inventory/{version.model.name}/v/{version.number}/monitoring/"
    subject = f"[Steward] {alert.get_kind_display()} on {version.model.name} v{version.number}: retraining recommended"
    body = f"{alert.detail}\n\nAcknowledge and follow up: {url}\n"
    emails = [u.email for u in recipients(version) if u.email]
    if emails:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails)
        except Exception:  # noqa: BLE001 - the alert stands; the mail is a courtesy
            logger.exception("could not mail alert %s", alert.pk)
    if getattr(settings, "STEWARD_WEBHOOK_URL", ""):
        payload = {"event": f"monitoring.{alert.kind}", "alert": alert.pk, "model": version.model.name,
                   "version": version.number, "detail": alert.detail, "url": url,
                   "api_url": f"{base}/api/v1/models/{version.model.name}/versions/{version.number}/monitoring/alerts/{alert.pk}/"}
        try:
            webhook_send.delay(payload)
        except Exception:  # noqa: BLE001 - logged; the alert stands
            logger.exception("could not enqueue webhook for alert %s", alert.pk)
