"""Shipped defaults: the risk questionnaire and its scoring, the policy matrix and the RACI matrix.

They follow *Introducing MLOps* ("understand and classify the analytics use cases", "project
criticality", the typical RACI). Loaded into the database by a data migration; from then on risk
officers edit them and every edit is a new version. Plain data, no Django imports.
"""

TIERS = {
    1: "Ad-hoc / self-service",
    2: "Scheduled, may be briefly down",
    3: "Scheduled, needs specific monitoring",
    4: "Operational, cannot suffer outages",
}


def _q(key, label, choices):
    return {
        "key": key,
        "label": label,
        "choices": [
            {"key": c[0], "label": c[1], "score": c[2], **({"min_tier": c[3]} if len(c) > 3 else {})}
            for c in choices
        ],
    }


# Each choice adds `score`; `min_tier` forces at least that tier whatever the total.
QUESTIONNAIRE = {
    "questions": [
        _q("regulation", "Applicable regulations", [
            ("none", "None specific", 0),
            ("regional", "Regional rules (e.g. GDPR, AI Act)", 2),
            ("sector", "Sector-specific regulation (banking, health, …)", 3, 3),
        ]),
        _q("personal_data", "Does the model use personal data?", [
            ("no", "No", 0),
            ("pseudonymised", "Pseudonymised", 1),
            ("yes", "Yes", 2),
        ]),
        _q("consumers", "Who consumes the results?", [
            ("one_team", "One team", 0),
            ("internal", "Many internal users", 1),
            ("public", "Customers or the public", 3),
        ]),
        _q("availability", "Availability needs", [
            ("ad_hoc", "Ad hoc", 0),
            ("batch", "Scheduled batch", 1),
            ("realtime", "Real-time, 24/7", 3, 4),
        ]),
        _q("error_impact", "Impact of errors", [
            ("low", "Low", 0),
            ("financial", "Financial", 2),
            ("personal", "Personal harm to individuals", 3, 3),
            ("legal", "Legal or loss of public trust", 3, 3),
        ]),
        _q("release_cadence", "Release cadence", [
            ("rare", "Rarely", 0),
            ("monthly", "Monthly", 1),
            ("continuous", "Weekly or more often", 2),
        ]),
        _q("lifetime", "Lifetime of the model and of its decisions", [
            ("short", "Days to weeks", 0),
            ("months", "Months", 1),
            ("years", "Years (decisions last)", 2),
        ]),
        _q("decay", "Expected rate of quality decay", [
            ("slow", "Slow", 0),
            ("medium", "Medium", 1),
            ("fast", "Fast", 2),
        ]),
        _q("explainability", "Need for explainability", [
            ("none", "None", 0),
            ("some", "Some", 1),
            ("required", "Required (decisions must be explained)", 2),
        ]),
    ],
    # The highest tier whose `min_score` the total reaches; below the first, tier 1.
    "thresholds": [{"tier": 2, "min_score": 4}, {"tier": 3, "min_score": 8}, {"tier": 4, "min_score": 13}],
    # Recorded with every classification; free text, not scored.
    "ethics": [
        {"key": "wellbeing", "label": "Which aspects of human well-being matter for this use case?"},
        {"key": "transparency", "label": "What transparency do those affected expect?"},
        {"key": "accountability", "label": "Who accepts accountability for AI-driven mistakes?"},
    ],
}

CONSIDERATIONS = {
    "reproducibility": "Reproducibility and traceability",
    "audit_documentation": "Audit and documentation",
    "sign_off": "Human sign-off",
    "preproduction_verification": "Pre-production verification",
    "explainability": "Transparency and explainability",
    "bias_harm": "Bias and harm testing",
    "deployment_mode": "Production deployment mode",
    "monitoring": "Production monitoring",
    "data_quality": "Data quality and compliance",
}

GOVERNED_STAGES = ["qa", "preproduction", "production"]

# Days a sign-off may take per tier, when the policy version sets no `signoff_due_days`.
SIGNOFF_DUE_DAYS = {"1": 10, "2": 7, "3": 5, "4": 3}


def _m(text, gate=None, stages=None, **params):
    measure = {"text": text}
    if gate:
        measure["gate"] = gate
        measure["params"] = params
        measure["stages"] = stages or ["production"]
    return measure


def _approvals(role, count, stages):
    return _m(f"{count} approval(s) from {role.replace('_', ' ')} for {', '.join(stages)}", "approvals", stages, role=role, count=count)


# Tier 1 light … tier 4 strict. A measure with a gate is checked on promotion to its `stages`.
POLICY = {
    "review_interval_days": {"1": 365, "2": 180, "3": 90, "4": 30},
    "tiers": {
        "1": {
            "reproducibility": [_m("Code commit recorded", "code_commit")],
            "sign_off": [_approvals("any", 1, ["production"])],
            "deployment_mode": [_m("Self-service deployment allowed")],
        },
        "2": {
            "reproducibility": [_m("Code commit recorded", "code_commit", ["preproduction", "production"])],
            "data_quality": [_m("Training datasets have SHA-256 and provenance", "datasets_provenance")],
            "sign_off": [_approvals("risk_officer", 1, ["production"])],
            "audit_documentation": [_m("Model card present", "model_card")],
            "monitoring": [_m("Basic health monitoring")],
        },
        "3": {
            "reproducibility": [_m("Code commit recorded", "code_commit", GOVERNED_STAGES)],
            "data_quality": [_m("Training datasets have SHA-256 and provenance", "datasets_provenance", ["preproduction", "production"])],
            "sign_off": [
                _approvals("risk_officer", 1, ["preproduction", "production"]),
                _approvals("accountable", 1, ["production"]),
            ],
            "audit_documentation": [_m("Model card present", "model_card", ["preproduction", "production"])],
            "preproduction_verification": [_m("Validated in pre-production before production")],
            "explainability": [_m("Explanations available for individual decisions")],
            "bias_harm": [_m("Bias report across named subpopulations attached", "bias_report")],
            "monitoring": [_m("Drift monitoring configured", "drift_monitoring")],
        },
        "4": {
            "reproducibility": [_m("Code commit recorded", "code_commit", GOVERNED_STAGES)],
            "data_quality": [_m("Training datasets have SHA-256 and provenance", "datasets_provenance", GOVERNED_STAGES)],
            "sign_off": [
                _approvals("risk_officer", 2, ["preproduction", "production"]),
                _approvals("accountable", 1, ["preproduction", "production"]),
            ],
            "audit_documentation": [_m("Model card present", "model_card", ["preproduction", "production"])],
            "preproduction_verification": [_m("Full pre-production run on production-like data")],
            "explainability": [_m("Global and individual explanations documented")],
            "bias_harm": [_m("Bias report across named subpopulations attached", "bias_report", ["preproduction", "production"])],
            "deployment_mode": [_m("Champion/challenger or A/B result in favour of this version", "ab_result_in_favour")],
            "monitoring": [_m("Drift monitoring configured", "drift_monitoring")],
        },
    },
}

RACI_TASKS = {
    "identification": "Identification",
    "data_preparation": "Data preparation",
    "data_modeling": "Data modeling",
    "model_acceptance": "Model acceptance",
    "productionalization": "Productionalization",
    "capitalization": "Capitalization",
    "integration": "Integration to external systems",
    "orchestration": "Global orchestration",
    "user_acceptance": "User acceptance tests",
    "deployments": "Deployments",
    "monitoring": "Monitoring",
}

RACI_ROLES = {
    "business_stakeholder": "Business stakeholders",
    "business_analyst": "Business analysts / citizen data scientists",
    "data_scientist": "Data scientists",
    "risk_audit": "Risk / audit",
    "data_ops": "Data ops",
    "production": "Production / exploitation",
    "architect": "Resources admin / architect",
}

RACI_VALUES = ["", "R", "A", "C", "I", "A/R"]

# The RACI task whose Accountable/Responsible people approve a move to each stage.
STAGE_TASK = {
    "qa": "model_acceptance",
    "preproduction": "model_acceptance",
    "production": "deployments",
    "archived": "monitoring",
}

_ROLES = list(RACI_ROLES)


def _row(*cells):
    return dict(zip(_ROLES, cells, strict=True))


# Columns: business_stakeholder, business_analyst, data_scientist, risk_audit, data_ops, production, architect
RACI = {
    "identification": _row("A", "R", "C", "C", "I", "I", "I"),
    "data_preparation": _row("I", "R", "A/R", "C", "R", "", "C"),
    "data_modeling": _row("I", "C", "A/R", "C", "C", "", "I"),
    "model_acceptance": _row("C", "C", "R", "A", "I", "I", ""),
    "productionalization": _row("I", "", "R", "C", "R", "A", "C"),
    "capitalization": _row("I", "C", "A/R", "I", "C", "", ""),
    "integration": _row("I", "", "C", "I", "R", "A", "C"),
    "orchestration": _row("", "", "C", "I", "R", "A", "R"),
    "user_acceptance": _row("A", "R", "C", "C", "I", "I", ""),
    "deployments": _row("I", "", "C", "C", "R", "A/R", "C"),
    "monitoring": _row("I", "I", "R", "C", "R", "A", "I"),
}
