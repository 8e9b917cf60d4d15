"""The governance gate this app provides."""

from governance.gates import GateResult, register_gate

from .models import Decision


@register_gate("ab_result_in_favour", label="A/B or shadow result in favour of this version")
def ab_result_in_favour(*, version, promotion, params) -> GateResult:
    """Met when a decided experiment adopted this version on a completed analysis (planned horizon
    reached, not stopped early) whose primary result for it is significant and in its favour."""
    decisions = (
        Decision.objects.filter(outcome=Decision.Outcome.ADOPT, version=version, experiment__stopped_early=False,
                                analysis__status="completed")
        .select_related("experiment", "analysis")
        .order_by("-created_at")
    )
    for decision in decisions:
        for metric in decision.analysis.results.get("metrics", []):
            if metric.get("role") == "primary" and metric.get("version") == version.number and metric.get("in_favour"):
                return GateResult(
                    True,
                    f"Experiment '{decision.experiment.name}' adopted v{version.number}: {metric['test']}, "
                    f"p = {metric['p_value']:.3g}, effect {metric['effect_absolute']:+.4g}.",
                    evidence_url=f"/api/v1/experiments/{decision.experiment_id}/analyses/{decision.analysis_id}/",
                    data={"experiment": decision.experiment_id, "analysis": decision.analysis_id},
                )
    return GateResult(False, f"No decided experiment adopted v{version.number} on a significant result in its favour.")
