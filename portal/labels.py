"""People's words for the codes Steward stores: roles, stages, audit actions, lawful bases, yes/no,
approval requirements. The one place the portal (and its template filters in
`portal/templatetags/words.py`) takes them from, so one code is always shown one way.

Labels that a model's `choices` already hold (stages, lawful bases, roles) are read from there;
this module only adds what no model says.
"""

from core.roles import Role
from governance.defaults import RACI_TASKS, TIERS
from registry.models import Dataset, Stage

STAGES = dict(Stage.choices)
LAWFUL_BASES = {code: label for code, label in Dataset.LegalBasis.choices if code}
ROLES = dict(Role.choices)

# Who an approvals gate asks for, as a policy names them (`params.role`).
APPROVER_ROLES = {
    "any": "anyone who may approve",
    "accountable": "the use case's Accountable person (RACI)",
    "responsible": "the use case's Responsible person (RACI)",
    Role.DATA_SCIENTIST: "a data scientist",
    Role.RISK_OFFICER: "a risk officer",
    Role.AUDITOR: "an auditor",
    Role.ADMIN: "an administrator",
}

# Audit actions (`AuditEvent.action`) as an auditor would say them.
ACTIONS = {
    "access.refused": "Was refused an action",
    # Fairness (fairness/services.py).
    "fairness.attributes_set": "Set a use case's sensitive attributes",
    "evaluation_set.upload": "Uploaded an evaluation set",
    "bias_report.request": "Asked for a bias report",
    "bias_report.complete": "Completed a bias report",
    "bias_report.fail": "A bias report failed",
    # MLflow's protocol (mlflow_api/services.py).
    "mlflow.model_tag.set": "Set a model's MLflow tag",
    "mlflow.model_tag.delete": "Deleted a model's MLflow tag",
    "mlflow.artifact.stage": "Staged an artifact through MLflow",
    "mlflow.version.create": "Registered a version through MLflow",
    "mlflow.version_tag.set": "Set a version's MLflow tag",
    "mlflow.version_tag.delete": "Deleted a version's MLflow tag",
    "model_version.delete": "Deleted a model version",
    "mlflow.alias.set": "Set a model alias",
    "mlflow.alias.delete": "Deleted a model alias",
    "mlflow.protected_alias.set": "Mapped a protected alias to a stage",
    "mlflow.protected_alias.delete": "Removed a protected alias",
    "subject_keys.upload": "Uploaded a dataset's data-subject keys (hashed)",
    "subject_request.create": "Recorded a data-subject request",
    "objection.record": "Recorded an objection to automated decisions",
    "obligation.open": "Opened a retraining obligation",
    "obligation.sign": "Signed a risk acceptance",
    "obligation.close": "Closed a retraining obligation",
    "audit.export": "Exported the audit trail",
    "auth.login": "Signed in",
    "auth.login_failed": "Failed sign-in",
    "auth.logout": "Signed out",
    "auth.staff_grant": "Opened the admin console to a role holder",
    "classification.override": "Overrode the risk tier",
    "classification.submit": "Classified a use case",
    "dataset.create": "Registered a dataset",
    "dataset.delete": "Deleted a dataset",
    "dataset.update": "Changed a dataset",
    "experiment.analysis": "Analysis finished",
    "experiment.analysis_request": "Requested an analysis",
    "experiment.change_refused": "Refused a change to a locked experiment",
    "experiment.create": "Designed an experiment",
    "experiment.decision": "Recorded an experiment decision",
    "experiment.decision_sign": "Signed an experiment decision",
    "experiment.events_ingest": "Uploaded experiment events",
    "experiment.start": "Started an experiment",
    "experiment.stop": "Stopped an experiment",
    "experiment.update": "Changed an experiment",
    "model.create": "Registered a model",
    "model.delete": "Deleted a model",
    "model.update": "Changed a model",
    "model_card.update": "Edited a model card",
    "model_version.artifact_check": "Checked an artifact",
    "model_version.register": "Registered a model version",
    "model_version.stage_change": "Moved a version to another stage",
    "model_version.update": "Changed a model version",
    "monitoring.alert_acknowledge": "Acknowledged a monitoring alert",
    "monitoring.alert_close": "Closed a monitoring alert",
    "monitoring.alert_raise": "Monitoring raised an alert",
    "monitoring.batch_upload": "Sent production data",
    "monitoring.check_complete": "Drift check finished",
    "monitoring.check_request": "Requested a drift check",
    "monitoring.configure": "Changed monitoring settings",
    "monitoring.labels_upload": "Sent ground-truth labels",
    "monitoring.reference_types": "Corrected reference feature types",
    "monitoring.reference_upload": "Uploaded a reference profile",
    "policy.update": "Changed the governance policy",
    "promotion.approved": "Promotion approved",
    "promotion.lapse": "Promotion request lapsed",
    "promotion.promote": "Promoted a version",
    "promotion.request": "Requested a promotion",
    "promotion.withdraw": "Withdrew a promotion request",
    "proposal.create": "Proposed a governance change",
    "proposal.confirm": "Confirmed a governance change",
    "proposal.reject": "Rejected a governance change",
    "proposal.withdraw": "Withdrew a governance change",
    "gate_exception.grant": "Granted a gate exception",
    "gate_exception.revoke": "Revoked a gate exception",
    "raci.update": "Changed a RACI matrix",
    "review.complete": "Completed a periodic review",
    "review.open": "Opened a periodic review",
    "scoring_scheme.update": "Changed the risk questionnaire",
    "signoff.approve": "Approved a promotion",
    "signoff.reject": "Rejected a promotion",
    "token.create": "Created an API token",
    "token.revoke": "Revoked an API token",
    "use_case.create": "Created a use case",
    "use_case.delete": "Deleted a use case",
    "use_case.update": "Changed a use case",
}

# Governance events: what the dashboard's feed shows (sign-ins, exports and job noise are not).
GOVERNANCE_ACTIONS = (
    "classification.override", "classification.submit", "policy.update", "scoring_scheme.update",
    "raci.update", "promotion.request", "promotion.withdraw", "promotion.lapse", "promotion.promote",
    "promotion.approved", "signoff.approve", "signoff.reject", "model_version.stage_change",
    "review.open", "review.complete", "model_card.update", "experiment.decision",
    "experiment.decision_sign", "experiment.start", "experiment.stop", "model.create",
    "model_version.register", "use_case.create", "use_case.delete", "model.delete",
    "proposal.create", "proposal.confirm", "proposal.reject", "gate_exception.grant", "gate_exception.revoke",
    "monitoring.alert_raise", "monitoring.alert_close",
)

# Field names inside `AuditEvent.changes`, where a plain word reads better than the code.
FIELDS = {
    "owner_id": "Owner (user id)", "use_case_id": "Use case (id)", "sha256": "SHA-256",
    "target_stage": "Target stage", "from_stage": "From stage", "policy_version": "Policy version",
    "approved_by": "Approved by", "contains_personal_data": "Personal data", "legal_basis": "Lawful basis",
    "training_datasets": "Training datasets (ids)", "validation_datasets": "Validation datasets (ids)",
    "code_commit": "Code commit", "code_repository": "Code repository", "training_run": "Training run",
    "artifact_uri": "Artifact URI", "artifact_filename": "Artifact file", "input_signature": "Input signature",
    "retention_until": "Retain until", "source_uri": "Source", "business_unit": "Business unit",
}

ACTION_FAMILIES = {
    "auth": "Sign-ins", "audit": "Audit trail", "classification": "Risk classification",
    "dataset": "Datasets", "experiment": "Experiments", "model": "Models", "model_card": "Model cards",
    "model_version": "Model versions", "policy": "Policy", "promotion": "Promotions",
    "raci": "RACI", "review": "Reviews", "scoring_scheme": "Risk questionnaire", "signoff": "Sign-offs",
    "token": "API tokens", "use_case": "Use cases",
}


def action_label(code: str) -> str:
    """'promotion.request' → 'Requested a promotion'; an unknown code is shown readably as itself."""
    return ACTIONS.get(code) or code.replace("_", " ").replace(".", ": ").capitalize()


def stage_label(code) -> str:
    return STAGES.get(code, code or "—")


def role_label(code) -> str:
    return ROLES.get(code, str(code).replace("_", " "))


def yes_no(value) -> str:
    return "Yes" if value else "No"


def lawful_basis_label(code) -> str:
    return LAWFUL_BASES.get(code or "", "Not applicable")


def personal_data_label(contains: bool, basis: str = "") -> str:
    """'Yes — Legitimate interests (Art. 6(1)(f))' or 'No': the one way personal data is shown."""
    return f"Yes — {lawful_basis_label(basis)}" if contains else "No"


def approvals_needed(role: str, count: int) -> str:
    """'1 approval from anyone who may approve', '2 approvals from a risk officer'."""
    noun = "approval" if int(count) == 1 else "approvals"
    return f"{count} {noun} from {APPROVER_ROLES.get(role, role_label(role))}"


def task_label(code) -> str:
    return RACI_TASKS.get(code, str(code).replace("_", " "))


def tier_label(tier) -> str:
    if tier in (None, ""):
        return "Unclassified"
    return f"Tier {tier} — {TIERS.get(int(tier), '')}".rstrip(" —")


def field_label(key: str) -> str:
    return FIELDS.get(key) or key.replace("_", " ").capitalize()
