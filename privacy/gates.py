"""The blocking gate privacy plugs into governance: an open obligation past its due date
blocks every move of its model but archiving (governance asks every registered blocker)."""

from django.urls import reverse

from governance.gates import GateResult, register_gate

from .selectors import obligations_overdue


@register_gate("privacy_obligations", label="No overdue data-subject obligations", blocking=True)
def privacy_obligations(*, version, promotion, params) -> GateResult:
    """Met unless an obligation (erasure or passed retention) on this model is open past its due date."""
    overdue = obligations_overdue(model_id=version.model_id)
    url = reverse("portal:privacy-obligations") + f"?model={version.model.name}"
    if overdue:
        listed = "; ".join(f"#{o.pk} due {o.due_date:%Y-%m-%d}" for o in overdue)
        return GateResult(False, f"Overdue obligation(s): {listed}. Retrain without the data or sign a risk acceptance.",
                          evidence_url=url)
    return GateResult(True, "No overdue obligation on this model.", evidence_url=url)
