"""Bias report services: name the sensitive attributes, upload an evaluation set and ask for a
report, compute it (worker). Each writes its audit event in its own transaction."""

import hashlib
import os
import tempfile

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, Forbidden, InvalidInput
from core.refusals import refusals_audited
from core.services import job_create, job_enqueue
from governance.evidence import evidence_changed
from governance.selectors import classification_current, policy_current
from registry.models import ModelVersion, UseCase

from . import access, policy
from .evaluation import EvaluationSetError, scan
from .metrics import Aggregator, analyse
from .models import BiasReport, EvaluationSet, SensitiveAttributes

RESERVED = {"prediction", "label", "score"}
MAX_ATTRIBUTES = 10


# --- selectors -------------------------------------------------------------------------------


def attributes_for(*, use_case: UseCase) -> tuple[list[str], list[list[str]]]:
    row = SensitiveAttributes.objects.filter(use_case=use_case).first()
    return (list(row.attributes), [list(p) for p in row.intersections]) if row else ([], [])


def requirements(*, version: ModelVersion, policy_data: dict | None = None, tier: int | None = None,
                 params: dict | None = None) -> dict:
    """What a report of this version must cover and be judged by: the use case's attributes and
    intersections, the policy's `subpopulations`, and the tier's thresholds. Defaults: the policy
    in force and the current tier (4, the strictest, when unclassified)."""
    if tier is None:
        classification = classification_current(use_case=version.model.use_case)
        tier = classification.tier if classification else 4
    if params is None:
        data = policy_data if policy_data is not None else policy_current().data
        params = policy.gate_params(data, tier)
    named, intersections = attributes_for(use_case=version.model.use_case)
    return {"tier": tier, "attributes": policy.required_attributes(params, named),
            "intersections": intersections, "thresholds": policy.thresholds(tier, params)}


def report_latest(*, version: ModelVersion) -> BiasReport | None:
    """The newest completed report of the version: its evidence."""
    return (BiasReport.objects.filter(version=version, status=BiasReport.Status.COMPLETED)
            .order_by("-completed_at", "-pk").first())


# --- services --------------------------------------------------------------------------------


@refusals_audited("fairness.attributes_set")
@transaction.atomic
def sensitive_attributes_set(*, actor, use_case: UseCase, attributes: list[str],
                             intersections: list[list[str]] | None = None) -> SensitiveAttributes:
    attributes = [a.strip() for a in attributes]
    intersections = [list(p) for p in intersections or []]
    errors = {}
    if any(not a for a in attributes) or len(set(attributes)) != len(attributes):
        errors["attributes"] = ["Attribute names must be non-empty and distinct."]
    elif RESERVED & set(attributes):
        errors["attributes"] = [f"{', '.join(sorted(RESERVED & set(attributes)))} name the prediction columns."]
    elif len(attributes) > MAX_ATTRIBUTES:
        errors["attributes"] = [f"At most {MAX_ATTRIBUTES} attributes."]
    bad = [p for p in intersections if len(p) != 2 or p[0] == p[1] or not set(p) <= set(attributes)]
    if bad:
        errors["intersections"] = ["Each intersection is a pair of two different named attributes."]
    if errors:
        raise InvalidInput("Invalid sensitive attributes.", fields=errors)
    row = SensitiveAttributes.objects.select_for_update().filter(use_case=use_case).first()
    before = (list(row.attributes), list(row.intersections)) if row else ([], [])
    removes = bool(set(before[0]) - set(attributes)) or any(p not in intersections for p in before[1])
    if not access.can_set_attributes(actor, use_case, removes=removes):
        raise Forbidden("A risk officer who does not own the use case sets its sensitive attributes; "
                        "its owner may only add attributes.")
    if row is None:
        row = SensitiveAttributes(use_case=use_case)
    row.attributes, row.intersections, row.updated_by = attributes, intersections, actor
    row.save()
    audit_record(action="fairness.attributes_set", actor=actor, obj=use_case,
                 changes={"attributes": {"before": before[0], "after": attributes},
                          "intersections": {"before": before[1], "after": intersections}})
    return row


def _spool(upload) -> tuple[str, str, int]:
    """Copy the upload to a temporary file, hashing it on the way: (path, sha256, size). Stops
    past `FAIRNESS_MAX_BYTES`."""
    limit = settings.FAIRNESS_MAX_BYTES
    digest, size = hashlib.sha256(), 0
    fd, path = tempfile.mkstemp(prefix="steward-evalset-")
    try:
        with os.fdopen(fd, "wb") as out:
            chunks = upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b"")
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                if size > limit:
                    raise InvalidInput("The evaluation set is too large.",
                                       fields={"file": [f"Larger than {limit:,} bytes (FAIRNESS_MAX_BYTES)."]})
                out.write(chunk)
    except BaseException:
        os.unlink(path)
        raise
    return path, digest.hexdigest(), size


def _format(path: str) -> str:
    with open(path, "rb") as f:
        return EvaluationSet.Format.PARQUET if f.read(4) == b"PAR1" else EvaluationSet.Format.CSV


@refusals_audited("bias_report.request")
def bias_report_request(*, actor, version: ModelVersion, upload=None, filename: str = "",
                        evaluation_set: EvaluationSet | None = None) -> BiasReport:
    """Upload an evaluation set (or reuse one of this version's) and queue its report. Every row
    is validated before anything is stored: bad rows answer 400 with their row numbers."""
    if not access.can_submit(actor, version):
        raise Forbidden("Only the version's owners upload evaluation sets and ask for bias reports.")
    req = requirements(version=version)
    if not req["attributes"]:
        raise Conflict(f"The use case '{version.model.use_case}' names no sensitive attributes yet.",
                       fields={"attributes": ["Name them first."]})
    if evaluation_set is None:
        if upload is None:
            raise InvalidInput("Upload an evaluation set.", fields={"file": ["No file was sent."]})
        path, sha, size = _spool(upload)
        try:
            fmt = _format(path)
            if size == 0:
                raise InvalidInput("The file is empty.", fields={"file": ["No rows."]})
            try:
                rows, bad, messages = scan(path, fmt, attributes=req["attributes"])
            except EvaluationSetError as exc:
                raise InvalidInput(str(exc), fields={exc.field: [str(exc)]}) from exc
            if bad:
                raise InvalidInput(f"The evaluation set was rejected; nothing of it was stored ({bad} bad row(s), "
                                   f"the first {len(messages)} listed).", fields={"rows": messages})
            if rows == 0:
                raise InvalidInput("The file has no rows.", fields={"file": ["No rows."]})
            with transaction.atomic():
                evaluation_set = EvaluationSet(version=version, filename=(filename or "evaluation")[:255], format=fmt,
                                               sha256=sha, size=size, rows=rows, uploaded_by=actor)
                with open(path, "rb") as f:
                    evaluation_set.file.save(f"{sha}.{fmt}", File(f), save=False)
                evaluation_set.save()
                audit_record(action="evaluation_set.upload", actor=actor, obj=evaluation_set,
                             changes={"version": {"before": None, "after": str(version)},
                                      "sha256": {"before": None, "after": sha}, "rows": {"before": None, "after": rows}})
                return _queue(actor, version, evaluation_set, req)
        finally:
            os.unlink(path)
    if evaluation_set.version_id != version.pk:
        raise InvalidInput("That evaluation set belongs to another version.", fields={"evaluation_set": ["Not this version's."]})
    with transaction.atomic():
        return _queue(actor, version, evaluation_set, req)


#: Sent by name: the tasks module imports this one, not the other way round.
BIAS_REPORT_TASK = "fairness.tasks.bias_report_compute_task"


def _queue(actor, version, evaluation_set, req) -> BiasReport:
    report = BiasReport.objects.create(
        version=version, evaluation_set=evaluation_set, artifact_sha256=version.sha256,
        evaluation_sha256=evaluation_set.sha256, attributes=req["attributes"], intersections=req["intersections"],
        thresholds=req["thresholds"], tier=req["tier"], policy_number=policy_current().number,
        seed=int(evaluation_set.sha256[:15], 16), requested_by=actor,
    )
    job = job_create(kind="fairness.bias_report", actor=actor, obj=report)
    report.job = job
    report.save(update_fields=["job"])
    audit_record(action="bias_report.request", actor=actor, obj=report,
                 changes={"version": {"before": None, "after": str(version)},
                          "evaluation_sha256": {"before": None, "after": evaluation_set.sha256},
                          "attributes": {"before": None, "after": req["attributes"]},
                          "thresholds": {"before": None, "after": req["thresholds"]}})
    job_enqueue(job=job, task=BIAS_REPORT_TASK)
    return report


def bias_report_compute(*, report_id: int) -> BiasReport:
    """Worker: compute a pending report (idempotent: a finished report is returned as it is).
    The new report is evidence: open requests of the version lapse (`evidence_changed`)."""
    report = BiasReport.objects.select_related("evaluation_set", "version").get(pk=report_id)
    if report.status != BiasReport.Status.PENDING:
        return report
    aggregator = Aggregator(attributes=report.attributes, intersections=[tuple(p) for p in report.intersections])
    with report.evaluation_set.file.open("rb") as f:
        rows, bad, messages = scan(f, report.evaluation_set.format, attributes=report.attributes, aggregator=aggregator)
    if bad:
        raise ValueError("; ".join(messages[:5]))
    results = analyse(aggregator, thresholds=report.thresholds, seed=report.seed)
    with transaction.atomic():
        report = BiasReport.objects.select_for_update().select_related("version").get(pk=report_id)
        if report.status != BiasReport.Status.PENDING:
            return report
        report.results, report.passed = results, results["passed"]
        report.status, report.completed_at = BiasReport.Status.COMPLETED, timezone.now()
        report.save(update_fields=["results", "passed", "status", "completed_at"])
        failed = [f"{j['attribute']}: {j['metric']}" for j in results["judgements"] if j["status"] == "fail"]
        audit_record(action="bias_report.complete", obj=report,
                     changes={"passed": {"before": None, "after": report.passed},
                              "failed": {"before": None, "after": failed},
                              "rows": {"before": None, "after": rows}})
        evidence_changed(version=report.version, reason=f"bias report #{report.pk} computed")
    return report


def bias_report_fail(*, report_id: int, error: str) -> None:
    with transaction.atomic():
        updated = BiasReport.objects.filter(pk=report_id, status=BiasReport.Status.PENDING).update(
            status=BiasReport.Status.FAILED, error=error[:2000], completed_at=timezone.now())
        if updated:
            audit_record(action="bias_report.fail", object_type="fairness.biasreport", object_id=str(report_id),
                         object_repr=f"bias report #{report_id}", changes={"error": {"before": None, "after": error[:300]}})
