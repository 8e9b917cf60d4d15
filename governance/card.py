"""The model card of a version: the free-text sections its data scientists write (evidence, like
its lineage), a selector gathering everything the card shows, and a Markdown rendering."""

from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from audit.services import audit_record, diff
from core.errors import Forbidden, InvalidInput
from core.refusals import refusals_audited
from registry.models import ModelVersion

from . import access
from .evidence import evidence_changed
from .models import GateException, ModelCardText, PromotionRequest, SignOff
from .selectors import classification_current

# Other apps (monitoring) may fill the monitoring section: `callable(version) -> dict`.
MONITORING_STATUS_PROVIDERS = []
# The fairness app fills the computed bias report: `callable(version) -> {"summary": str,
# "lines": [markdown lines], "url": str} | None`.
BIAS_REPORT_PROVIDERS = []


@refusals_audited("model_card.update")
@transaction.atomic
def model_card_update(
    *, actor, version: ModelVersion, intended_use: str | None = None, limitations: str | None = None,
    bias_report: dict | None = None,
) -> ModelCardText:
    """Edit the free-text sections and the bias report of a version's model card. They are
    evidence: a change lapses open requests and flags a production version for review."""
    if not access.can_edit_model_card(actor, version):
        raise Forbidden("Only the model's data scientists write its model card.")
    if bias_report is not None:
        ok = isinstance(bias_report, dict) and all(
            isinstance(metrics, dict) and metrics
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values())
            for metrics in bias_report.values()
        )
        if not ok:
            raise InvalidInput("Invalid bias report.", fields={"bias_report": [
                "An object {subpopulation: {metric: number}} with at least one metric per subpopulation."
            ]})
    text, _ = ModelCardText.objects.select_for_update().get_or_create(version=version)
    fields = ["intended_use", "limitations", "bias_report"]
    before = {f: getattr(text, f) for f in fields}
    if intended_use is not None:
        text.intended_use = intended_use
    if limitations is not None:
        text.limitations = limitations
    if bias_report is not None:
        text.bias_report = bias_report
    text.updated_by = actor
    text.save(update_fields=[*fields, "updated_by", "updated_at"])
    changes = diff(before, {f: getattr(text, f) for f in fields})
    if changes:
        audit_record(action="model_card.update", actor=actor, obj=version, changes=changes)
        evidence_changed(version=version, actor=actor, reason=f"model card changed ({', '.join(sorted(changes))})")
    return text


def _datasets(qs):
    return [
        {"name": d.name, "version": d.version, "sha256": d.sha256, "source_uri": d.source_uri,
         "contains_personal_data": d.contains_personal_data, "legal_basis": d.legal_basis}
        for d in qs
    ]


def model_card_data(*, version: ModelVersion) -> dict:
    version = (
        ModelVersion.objects.select_related("model__use_case", "model__owner", "created_by")
        .prefetch_related(
            "training_datasets", "validation_datasets",
            Prefetch("promotions", queryset=PromotionRequest.objects.select_related("requester", "policy").prefetch_related(
                Prefetch("signoffs", queryset=SignOff.objects.select_related("approver", "policy"))
            ).order_by("created_at", "pk")),
        )
        .get(pk=version.pk)
    )
    model, use_case = version.model, version.model.use_case
    classification = classification_current(use_case=use_case)
    text = ModelCardText.objects.filter(version=version).first()
    monitoring = {"status": "not configured", "detail": "No monitoring app reported on this version."}
    for provider in MONITORING_STATUS_PROVIDERS:
        monitoring = provider(version) or monitoring
    computed_bias = None
    for provider in BIAS_REPORT_PROVIDERS:
        computed_bias = provider(version) or computed_bias
    return {
        "model": model.name,
        "version": version.number,
        "stage": version.stage,
        "description": version.description or model.description,
        "owner": model.owner.get_username(),
        "created_by": version.created_by.get_username(),
        "created_at": version.created_at.isoformat(),
        "purpose": use_case.purpose,
        "use_case": {
            "id": use_case.pk,
            "name": use_case.name,
            "tier": classification.tier if classification else None,
            "computed_tier": classification.computed_tier if classification else None,
            "override_justification": classification.override_justification if classification else "",
            "drivers": classification.drivers if classification else [],
        },
        "lineage": {
            "sha256": version.sha256,
            "artifact": version.artifact_filename or version.artifact_uri,
            "framework": version.framework,
            "code_repository": version.code_repository,
            "code_commit": version.code_commit,
            "training_run": version.training_run,
            "training_datasets": _datasets(version.training_datasets.all()),
            "validation_datasets": _datasets(version.validation_datasets.all()),
        },
        "metrics": version.metrics,
        "params": version.params,
        "sections": {
            "intended_use": text.intended_use if text else "",
            "limitations": text.limitations if text else "",
        },
        "bias_report": text.bias_report if text else {},
        "computed_bias_report": computed_bias,
        "governance": [
            {
                "promotion": p.pk, "from_stage": p.from_stage, "target_stage": p.target_stage, "status": p.status,
                "requester": p.requester.get_username(), "requested_at": p.created_at.isoformat(),
                "policy_version": p.policy.number, "tier": p.tier,
                "signoffs": [
                    {"approver": s.approver.get_username(), "decision": s.decision, "comment": s.comment,
                     "at": s.created_at.isoformat(), "policy_version": s.policy.number, "sha256": s.sha256,
                     "lapsed": s.lapsed_at is not None}
                    for s in p.signoffs.all()
                ],
            }
            for p in version.promotions.all()
        ],
        "monitoring": monitoring,
        "exceptions": _exceptions(version),
    }


def _exceptions(version) -> list[dict]:
    """Risk officers' exceptions to a gate for this version or its use case, newest first."""
    now = timezone.now()
    found = GateException.objects.filter(Q(version=version) | Q(use_case_id=version.model.use_case_id)).select_related("granted_by")
    return [
        {"gate": e.gate, "scope": "this version" if e.version_id else "every version of the use case",
         "justification": e.justification, "granted_by": e.granted_by.get_username(),
         "expires_at": e.expires_at.isoformat(), "in_force": e.in_force(now), "revoked": e.revoked_at is not None}
        for e in found
    ]


def _cell(value) -> str:
    return str(value if value not in (None, "") else "—").replace("|", "\\|").replace("\n", " ")


def model_card_markdown(card: dict) -> str:
    uc = card["use_case"]
    lines = [
        f"# Model card: {card['model']} v{card['version']}",
        "",
        f"- Stage: {card['stage']}",
        f"- Owner: {card['owner']}; version created by {card['created_by']} on {card['created_at'][:10]}",
        f"- Use case: {uc['name']} — risk tier {_cell(uc['tier'])}"
        + (f" (overridden from {uc['computed_tier']}: {uc['override_justification']})" if uc["override_justification"] else ""),
        "",
        "## Purpose",
        "",
        card["purpose"] or "_Not stated._",
        "",
        "## Intended use",
        "",
        card["sections"]["intended_use"] or "_Not written yet._",
        "",
        "## Limitations",
        "",
        card["sections"]["limitations"] or "_Not written yet._",
        "",
        "## Lineage",
        "",
        f"- Artifact SHA-256: `{card['lineage']['sha256']}`",
        f"- Code: {_cell(card['lineage']['code_repository'])} @ {_cell(card['lineage']['code_commit'])}",
        f"- Training run: {_cell(card['lineage']['training_run'])}",
        "",
        "| Dataset | Role | SHA-256 | Source | Personal data |",
        "|---|---|---|---|---|",
    ]
    for role in ("training", "validation"):
        for d in card["lineage"][f"{role}_datasets"]:
            lines.append(
                f"| {_cell(d['name'])}@{_cell(d['version'])} | {role} | {_cell(d['sha256'])} | {_cell(d['source_uri'])} | "
                + (f"yes ({d['legal_basis']})" if d["contains_personal_data"] else "no") + " |"
            )
    lines += ["", "## Metrics", ""]
    lines += [f"- {k}: {v}" for k, v in sorted(card["metrics"].items())] or ["_None recorded._"]
    lines += ["", "## Bias report", ""]
    lines += [
        f"- {group}: " + ", ".join(f"{k} {v}" for k, v in sorted(metrics.items()))
        for group, metrics in sorted(card["bias_report"].items())
    ] or ["_None attached._"]
    if card.get("computed_bias_report"):
        lines += ["", "### Computed bias report", "", card["computed_bias_report"]["summary"], ""]
        lines += card["computed_bias_report"]["lines"]
    lines += ["", "## Gates and sign-offs", ""]
    if not card["governance"]:
        lines.append("_No promotion requested yet._")
    for p in card["governance"]:
        lines.append(
            f"- Promotion #{p['promotion']} {p['from_stage']} → {p['target_stage']}: {p['status']} "
            f"(requested by {p['requester']} on {p['requested_at'][:10]}, policy v{p['policy_version']}, tier {p['tier']})"
        )
        for s in p["signoffs"]:
            lapsed = " — lapsed" if s["lapsed"] else ""
            comment = f": {s['comment']}" if s["comment"] else ""
            lines.append(f"  - {s['decision']} by {s['approver']} at {s['at'][:16]}{lapsed}{comment}")
    lines += ["", "## Exceptions to gates", ""]
    lines += [
        f"- {e['gate']} ({e['scope']}): {e['justification']} — granted by {e['granted_by']} until {e['expires_at'][:16]}"
        f"{'' if e['in_force'] else (' (revoked)' if e['revoked'] else ' (expired)')}"
        for e in card.get("exceptions", [])
    ] or ["_None._"]
    lines += ["", "## Monitoring", "", f"{card['monitoring']['status']}: {card['monitoring']['detail']}", ""]
    return "\n".join(lines)
