"""What this app plugs into governance: the `bias_report` gate, the report as evidence in the
version's lineage fingerprint, and the computed report on the model card."""

from governance.card import BIAS_REPORT_PROVIDERS
from governance.evidence import EVIDENCE_PROVIDERS
from governance.gates import GateResult, register_gate

from .metrics import DISPARITIES
from .services import report_latest, requirements


def page_url(version) -> str:
    return f"/inventory/{version.model.name}/v/{version.number}/fairness/"


def failure_text(j: dict) -> str:
    """'gender: Demographic parity difference 0.31 > 0.10 (selection rate m 0.62 vs f 0.31; BH-adjusted p 0.001)'."""
    label, kind = DISPARITIES[j["metric"]]
    sign = "<" if kind == "min" else ">"
    groups = j.get("groups") or {}
    between = ""
    if groups:
        between = (f"{groups['rate'].replace('_', ' ')} {groups['highest']} {groups['highest_value']:.3f} vs "
                   f"{groups['lowest']} {groups['lowest_value']:.3f}; ")
    return (f"{j['attribute']}: {label} {j['value']:.3f} {sign} {j['threshold']:.2f} "
            f"({between}BH-adjusted p {j['p_adjusted']:.3g})")


@register_gate("bias_report", label="Bias report across named subpopulations passes the policy's thresholds")
def bias_report(*, version, promotion, params) -> GateResult:
    """Met when the newest computed bias report of this version was made on its artifact, covers
    the use case's sensitive attributes and the policy's `subpopulations`, was judged by the
    thresholds of the tier, and no judgement failed."""
    url = page_url(version)
    req = requirements(version=version, tier=promotion.tier if promotion else None,
                       params=params if promotion else None)
    if not req["attributes"]:
        return GateResult(False, "The use case names no sensitive attributes to report on.", evidence_url=url)
    report = report_latest(version=version)
    if report is None:
        return GateResult(False, f"No computed bias report for v{version.number}; upload an evaluation set.", evidence_url=url)
    if report.artifact_sha256 != version.sha256:
        return GateResult(False, f"Bias report #{report.pk} was computed for another artifact.", evidence_url=url)
    missing = [a for a in req["attributes"] if a not in report.attributes]
    missing += [" × ".join(p) for p in req["intersections"] if list(p) not in [list(q) for q in report.intersections]]
    if missing:
        return GateResult(False, f"Bias report #{report.pk} does not cover: " + ", ".join(missing), evidence_url=url)
    if report.thresholds != req["thresholds"]:
        return GateResult(False, f"Bias report #{report.pk} was judged by other thresholds than tier {req['tier']}'s; "
                                 "compute it again.", evidence_url=url)
    failed = [j for j in report.results.get("judgements", []) if j["status"] == "fail"]
    if failed:
        return GateResult(False, f"Bias report #{report.pk} fails: " + "; ".join(failure_text(j) for j in failed),
                          evidence_url=url, data={"report": report.pk})
    return GateResult(True, f"Bias report #{report.pk} passes on {', '.join(report.attributes)} "
                            f"({report.results.get('rows', 0)} rows).", evidence_url=url, data={"report": report.pk})


def _evidence(version):
    report = report_latest(version=version)
    if report is None:
        return None
    return {"report": report.pk, "evaluation_sha256": report.evaluation_sha256, "passed": report.passed}


def _card(version):
    report = report_latest(version=version)
    if report is None:
        return None
    failed = [j for j in report.results.get("judgements", []) if j["status"] == "fail"]
    summary = (f"Report #{report.pk} on {report.results.get('rows', 0)} rows (evaluation set "
               f"{report.evaluation_sha256[:12]}): " + ("passes the thresholds." if report.passed else
                                                         f"{len(failed)} judgement(s) fail."))
    lines = [f"- {failure_text(j)}" for j in failed]
    return {"summary": summary, "lines": lines, "url": page_url(version), "report": report.pk}


EVIDENCE_PROVIDERS["bias_report"] = _evidence
if _card not in BIAS_REPORT_PROVIDERS:
    BIAS_REPORT_PROVIDERS.append(_card)
