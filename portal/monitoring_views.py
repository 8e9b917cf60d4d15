"""The portal's monitoring page of a version: drift per feature and over time, reference against
current distribution, performance against validation, alerts to acknowledge and close.

Like `views.py`: read with bounded queries, write only through `monitoring.services`, and show a
refusal's `ServiceError.message`.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from monitoring import access
from monitoring import services as monitoring
from monitoring.models import Alert, DriftCheck, FeatureDrift, ReferenceProfile
from monitoring.performance import CLASSIFICATION_METRICS, REGRESSION_METRICS
from registry.models import ModelVersion

# Checks drawn in the charts (the newest ones); older ones stay in the API and the audit trail.
HISTORY = 60


def _version_or_404(name, number):
    return get_object_or_404(ModelVersion.objects.select_related("model__use_case", "model__owner"),
                             model__name=name, number=number)


@login_required
def version_monitoring(request, name, number):
    version = _version_or_404(name, number)
    monitor = monitoring.monitor_of(version)
    profile = ReferenceProfile.objects.filter(version=version).defer("grid").first()
    done = DriftCheck.objects.filter(version=version, status=DriftCheck.Status.DONE)
    history = list(done.order_by("-window_end", "-pk")[:HISTORY])[::-1]
    selected = None
    if request.GET.get("check", "").isdigit():
        selected = next((c for c in history if c.pk == int(request.GET["check"])), None)
        selected = selected or done.filter(pk=int(request.GET["check"])).first()
    selected = selected or (history[-1] if history else None)
    features = list(FeatureDrift.objects.filter(check_run=selected)) if selected else []
    feature = next((f for f in features if f.feature == request.GET.get("feature")), None)
    feature = feature or next((f for f in features if f.drifted), None) or (features[0] if features else None)
    over_time = []
    if feature:
        points = dict(FeatureDrift.objects.filter(check_run__in=history, feature=feature.feature)
                      .values_list("check_run_id", "statistic"))
        over_time = [{"check": c.pk, "at": c.window_end.strftime("%Y-%m-%d %H:%M"), "statistic": points.get(c.pk)}
                     for c in history if c.pk in points]
    perf_rows = _performance_rows(history)
    alerts = list(Alert.objects.filter(version=version).exclude(status=Alert.Status.CLOSED)
                  .select_related("acknowledged_by", "check_run"))
    running = DriftCheck.objects.filter(version=version, status=DriftCheck.Status.RUNNING).count()
    context = {
        "section": "inventory", "model": version.model, "version": version, "monitor": monitor, "profile": profile,
        "check": selected, "features": features, "feature": feature, "history": history, "running": running,
        "alerts": alerts, "perf_rows": perf_rows,
        "chart": {
            "feature": feature.feature if feature else None,
            "method": feature.method if feature else None,
            "threshold": feature.threshold if feature else None,
            "over_time": over_time,
            "histogram": feature.histogram if feature else None,
            "kind": feature.kind if feature else None,
            "performance": perf_rows,
        },
        "can_feed": access.can_feed(request.user, version),
        "can_acknowledge": access.can_acknowledge(request.user, version),
        "can_close": access.can_close(request.user, version),
        "can_schedule": access.can_set_schedule(request.user, version, removing=False),
    }
    return render(request, "portal/monitoring/version.html", context)


def _performance_rows(history):
    """One row per check with performance: the metric shown (realized, else estimated) per name."""
    rows = []
    for c in history:
        perf = c.performance or {}
        if not perf.get("shown"):
            continue
        names = REGRESSION_METRICS if perf.get("task") == "regression" else CLASSIFICATION_METRICS
        realized, estimated = perf.get("realized") or {}, perf.get("estimated") or {}
        rows.append({
            "check": c.pk, "at": c.window_end.strftime("%Y-%m-%d %H:%M"), "labelled": perf.get("labelled", 0),
            "metrics": [{"name": m, "realized": realized.get(m), "estimated": estimated.get(m),
                         "baseline": (perf.get("baseline") or {}).get(m)} for m in names
                        if realized.get(m) is not None or estimated.get(m) is not None],
        })
    return rows


def _back(name, number):
    # Always the version's monitoring page: a posted "next" would let any link send people away.
    return redirect("portal:version-monitoring", name=name, number=number)


class ScheduleForm(forms.Form):
    """Empty `schedule_minutes` switches the schedule off; which values are allowed, and who may
    switch a production version's schedule off, is `monitoring.services.monitor_configure`'s."""

    schedule_minutes = forms.IntegerField(required=False)
    window_hours = forms.IntegerField(required=False)


class CloseForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000)


def _form_problems(form) -> str:
    return " ".join(f"{form.fields[k].label or k}: {m}" if k in form.fields else m
                    for k, ms in form.errors.items() for m in ms)


@login_required
@require_POST
def monitoring_check(request, name, number):
    version = _version_or_404(name, number)
    try:
        check = monitoring.check_request(actor=request.user, version=version)
        messages.success(request, f"Check {check.pk} queued: {check.parts.count()} worker task(s).")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return _back(name, number)


@login_required
@require_POST
def monitoring_schedule(request, name, number):
    version = _version_or_404(name, number)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_problems(form))
        return _back(name, number)
    fields = {"schedule_minutes": form.cleaned_data["schedule_minutes"]}
    if form.cleaned_data["window_hours"] is not None:
        fields["window_hours"] = form.cleaned_data["window_hours"]
    try:
        monitoring.monitor_configure(actor=request.user, version=version, **fields)
        messages.success(request, "Schedule saved." if fields["schedule_minutes"] else "Schedule switched off.")
    except ServiceError as exc:
        messages.error(request, " ".join([exc.message, *(m for ms in exc.fields.values() for m in ms)]))
    return _back(name, number)


@login_required
@require_POST
def monitoring_alert(request, name, number, alert_id, action):
    if action not in ("acknowledge", "close"):
        raise Http404("Unknown action.")
    version = _version_or_404(name, number)
    alert = get_object_or_404(Alert, version=version, pk=alert_id)
    form = CloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_problems(form))
        return _back(name, number)
    try:
        if action == "acknowledge":
            monitoring.alert_acknowledge(actor=request.user, alert=alert)
            messages.success(request, "Alert acknowledged.")
        else:
            monitoring.alert_close(actor=request.user, alert=alert, comment=form.cleaned_data["comment"])
            messages.success(request, "Alert closed.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return _back(name, number)
