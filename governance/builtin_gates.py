"""The gates governance itself can check. Registered on import (from GovernanceConfig.ready()).

`approvals` reports the slots `governance.approvals` fills (one person, one slot).
"""

from .approvals import SLOT_LABELS, SLOT_LABELS_PLURAL, filled_counts
from .gates import GateResult, register_gate
from .models import ModelCardText


@register_gate("approvals", label="Approvals")
def approvals(*, version, promotion, params) -> GateResult:
    """N approvals from role R (`any`, a Steward role, or `accountable` = the RACI Accountable)."""
    role = params.get("role", "any")
    if promotion is None:
        return GateResult(False, f"Approvals from {SLOT_LABELS_PLURAL.get(role, role)} needed.")
    got, need = filled_counts(promotion).get(role, (0, int(params.get("count", 1))))
    who = SLOT_LABELS.get(role, role) if need == 1 else SLOT_LABELS_PLURAL.get(role, role)
    return GateResult(got >= need, f"{got} of {need} from {who}.", data={"human": True})


@register_gate("code_commit", label="Code commit recorded")
def code_commit(*, version, promotion, params) -> GateResult:
    if version.code_commit:
        return GateResult(True, f"Commit {version.code_commit}.")
    return GateResult(False, "No code commit recorded on the version.")


@register_gate("datasets_provenance", label="Training datasets have SHA-256 and provenance")
def datasets_provenance(*, version, promotion, params) -> GateResult:
    datasets = list(version.training_datasets.all())
    if not datasets:
        return GateResult(False, "No training datasets recorded.")
    missing = [str(d) for d in datasets if not (d.sha256 and d.source_uri)]
    if missing:
        return GateResult(False, "Missing SHA-256 or source: " + ", ".join(missing))
    return GateResult(True, f"{len(datasets)} dataset(s) with SHA-256 and source.")


@register_gate("model_card", label="Model card present")
def model_card(*, version, promotion, params) -> GateResult:
    text = ModelCardText.objects.filter(version=version).first()
    url = f"/api/v1/models/{version.model.name}/versions/{version.number}/card/"
    if text and text.intended_use.strip() and text.limitations.strip():
        return GateResult(True, "Intended use and limitations written.", evidence_url=url)
    return GateResult(False, "Write the model card's intended use and limitations.", evidence_url=url)


# `bias_report` is checked by the fairness app (fairness/gates.py): the newest computed bias report
# of the version passes the thresholds of the use case's tier. Without that app it is not met.
