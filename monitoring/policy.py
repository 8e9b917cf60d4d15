"""What the policy asks of monitoring per tier, with Steward's defaults.

Risk officers may add a `"monitoring"` section to the policy matrix JSON (governance's policy
versions): `{"monitoring": {"3": {"alert_on": "drift", "max_metric_drop": 0.05,
"early_review": true}}}`. Keys missing there fall back to `TIER_DEFAULTS`. No Django imports.

- `alert_on`: "drift" raises an alert on dataset drift; "warning" already when any feature drifts.
- `max_metric_drop`: a realized metric worse than its validation value by more than this
  (absolute, in the metric's unit) is a degradation alert.
- `early_review`: an alert also opens the version's periodic review now.
"""

TIER_DEFAULTS = {
    "1": {"alert_on": "drift", "max_metric_drop": 0.10, "early_review": False},
    "2": {"alert_on": "drift", "max_metric_drop": 0.05, "early_review": False},
    "3": {"alert_on": "drift", "max_metric_drop": 0.05, "early_review": True},
    "4": {"alert_on": "warning", "max_metric_drop": 0.02, "early_review": True},
}


def tier_rules(policy_data: dict | None, tier: int) -> dict:
    rules = dict(TIER_DEFAULTS.get(str(tier), TIER_DEFAULTS["4"]))
    section = (policy_data or {}).get("monitoring") or {}
    override = section.get(str(tier)) if isinstance(section, dict) else None
    if isinstance(override, dict):
        if override.get("alert_on") in ("drift", "warning"):
            rules["alert_on"] = override["alert_on"]
        if isinstance(override.get("max_metric_drop"), (int, float)) and not isinstance(override["max_metric_drop"], bool):
            rules["max_metric_drop"] = float(override["max_metric_drop"])
        if isinstance(override.get("early_review"), bool):
            rules["early_review"] = override["early_review"]
    return rules
