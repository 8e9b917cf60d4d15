"""Thresholds of a bias report: the `bias_report` gate's params in the policy of the use case's
tier, over these defaults (stricter for riskier tiers). Keys are documented in docs/fairness.md."""

DEFAULTS = {
    "1": {"max_demographic_parity_difference": 0.20, "min_demographic_parity_ratio": 0.80,
          "max_equal_opportunity_difference": 0.20, "max_equalized_odds_difference": 0.20,
          "min_group_size": 30, "alpha": 0.05, "confidence": 0.95, "bootstrap_reps": 1000},
    "2": {"max_demographic_parity_difference": 0.15, "min_demographic_parity_ratio": 0.80,
          "max_equal_opportunity_difference": 0.15, "max_equalized_odds_difference": 0.15,
          "min_group_size": 50, "alpha": 0.05, "confidence": 0.95, "bootstrap_reps": 1000},
    "3": {"max_demographic_parity_difference": 0.10, "min_demographic_parity_ratio": 0.80,
          "max_equal_opportunity_difference": 0.10, "max_equalized_odds_difference": 0.10,
          "min_group_size": 100, "alpha": 0.05, "confidence": 0.95, "bootstrap_reps": 1000},
    "4": {"max_demographic_parity_difference": 0.05, "min_demographic_parity_ratio": 0.80,
          "max_equal_opportunity_difference": 0.05, "max_equalized_odds_difference": 0.05,
          "min_group_size": 100, "alpha": 0.05, "confidence": 0.95, "bootstrap_reps": 1000},
}
KEYS = tuple(DEFAULTS["1"])


def gate_params(policy_data: dict, tier: int) -> dict | None:
    """The params of the first `bias_report` measure of the tier, or None when the tier has none."""
    for measures in policy_data.get("tiers", {}).get(str(tier), {}).values():
        for measure in measures:
            if measure.get("gate") == "bias_report":
                return measure.get("params") or {}
    return None


def thresholds(tier: int, params: dict | None) -> dict:
    """Defaults of the tier, overridden by the numeric keys the policy sets."""
    out = dict(DEFAULTS.get(str(tier), DEFAULTS["4"]))
    for key in KEYS:
        if params and params.get(key) is not None:
            out[key] = type(out[key])(params[key])
    return out


def required_attributes(params: dict | None, named: list[str]) -> list[str]:
    """What a report must cover: the use case's attributes and the policy's `subpopulations`."""
    out = list(named)
    for s in (params or {}).get("subpopulations") or []:
        if s not in out:
            out.append(s)
    return out
