"""The bias report page of a version: judgements, a chart per metric, exports, and the upload
form for the version's owners. The services decide; the page asks `fairness.access` only to
choose which forms to show."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from fairness import access
from fairness import services as fairness_services
from fairness.exports import report_csv, report_markdown
from fairness.gates import failure_text
from fairness.metrics import DISPARITIES
from fairness.models import BiasReport
from registry.models import ModelVersion

RATE_LABELS = {"selection_rate": "Selection rate", "accuracy": "Accuracy", "true_positive_rate": "True positive rate",
               "false_positive_rate": "False positive rate", "precision": "Precision", "observed_rate": "Observed rate"}


class EvaluationSetForm(forms.Form):
    file = forms.FileField(label="Evaluation set (CSV or Parquet)",
                           help_text="Columns: prediction, label (0/1), score (optional, 0–1) and the attributes named below.")


def _version(name, number):
    return get_object_or_404(ModelVersion.objects.select_related("model__use_case"), model__name=name, number=number)


def _chart(report) -> list[dict]:
    """Per attribute: per disparity a point with its interval against the threshold, and per
    group rate its groups with intervals (judged groups only are compared)."""
    charts = []
    judgements = {(j["attribute"], j["metric"]): j for j in report.results.get("judgements", [])}
    for key, entry in report.results.get("attributes", {}).items():
        for metric, (label, _kind) in DISPARITIES.items():
            d, j = entry["disparities"][metric], judgements.get((key, metric), {})
            charts.append({"kind": "disparity", "title": f"{key}: {label}", "labels": [key],
                           "values": [d["value"]], "low": [d["low"]], "high": [d["high"]],
                           "threshold": j.get("threshold"), "status": j.get("status")})
        for rate in ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"):
            groups = entry["groups"]
            charts.append({"kind": "groups", "title": f"{key}: {RATE_LABELS[rate]} by group",
                           "labels": [g["group"] + ("" if g["judged"] else " (not judged)") for g in groups],
                           "values": [g[rate]["value"] for g in groups], "low": [g[rate]["low"] for g in groups],
                           "high": [g[rate]["high"] for g in groups], "threshold": None})
    return charts


@login_required
def fairness_page(request, name, number):
    version = _version(name, number)
    reports = list(BiasReport.objects.filter(version=version).select_related("evaluation_set", "requested_by")[:20])
    latest = fairness_services.report_latest(version=version)
    req = fairness_services.requirements(version=version)
    failed = [failure_text(j) for j in latest.results.get("judgements", []) if j["status"] == "fail"] if latest else []
    context = {
        "section": "inventory", "model": version.model, "version": version, "reports": reports, "latest": latest,
        "failed": failed, "requirements": req, "charts": _chart(latest) if latest else [],
        "labels": {k: v[0] for k, v in DISPARITIES.items()}, "rate_labels": RATE_LABELS,
        "form": EvaluationSetForm() if access.can_submit(request.user, version) else None,
        "pending": [r for r in reports if r.status == BiasReport.Status.PENDING],
    }
    return render(request, "portal/fairness/report.html", context)


@login_required
@require_POST
def fairness_upload(request, name, number):
    version = _version(name, number)
    form = EvaluationSetForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose an evaluation set to upload.")
        return redirect("portal:fairness", name=name, number=number)
    upload = form.cleaned_data["file"]
    try:
        report = fairness_services.bias_report_request(actor=request.user, version=version, upload=upload, filename=upload.name)
    except ServiceError as exc:
        detail = "; ".join(m for ms in exc.fields.values() for m in (ms if isinstance(ms, list) else [ms]))
        messages.error(request, f"{exc.message} {detail}".strip())
    else:
        messages.success(request, f"Bias report #{report.pk} is being computed.")
    return redirect("portal:fairness", name=name, number=number)


def _latest_or_404(version):
    report = fairness_services.report_latest(version=version)
    if report is None:
        raise Http404("No computed bias report for this version.")
    return report


@login_required
def fairness_export_csv(request, name, number):
    version = _version(name, number)
    report = _latest_or_404(version)
    response = HttpResponse(report_csv(report.results), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{version.model.name}-v{version.number}-bias-report-{report.pk}.csv"'
    return response


@login_required
def fairness_export_md(request, name, number):
    version = _version(name, number)
    report = _latest_or_404(version)
    facts = [("Report", f"#{report.pk} ({'passes' if report.passed else 'fails'})"),
             ("Artifact SHA-256", report.artifact_sha256), ("Evaluation set SHA-256", report.evaluation_sha256),
             ("Rows", str(report.results.get("rows"))), ("Tier", str(report.tier)),
             ("Policy version", str(report.policy_number)), ("Thresholds", ", ".join(f"{k} {v}" for k, v in report.thresholds.items())),
             ("Seed", str(report.seed))]
    body = report_markdown(title=f"Bias report {version.model.name} v{version.number}", facts=facts, results=report.results)
    response = HttpResponse(body, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{version.model.name}-v{version.number}-bias-report-{report.pk}.md"'
    return response
