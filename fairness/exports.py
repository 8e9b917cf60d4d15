"""A bias report as Markdown and CSV (pure functions over the report's stored results)."""

import csv
import io

from .metrics import DISPARITIES

RATES = ("selection_rate", "accuracy", "true_positive_rate", "false_positive_rate", "precision", "observed_rate")


def _f(x, fmt=".4f"):
    return "" if x is None else format(x, fmt)


def report_csv(results: dict) -> str:
    """One row per (attribute, group, metric) and per (attribute, disparity) with its judgement."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["attribute", "group", "metric", "value", "low", "high", "size", "judged", "threshold", "p_value",
                "p_adjusted", "status"])
    for key, entry in results.get("attributes", {}).items():
        for g in entry["groups"]:
            for m in RATES:
                w.writerow([key, g["group"], m, _f(g[m]["value"]), _f(g[m]["low"]), _f(g[m]["high"]), g["size"],
                            g["judged"], "", "", "", ""])
            w.writerow([key, g["group"], "calibration_gap", _f(g["calibration_gap"]), "", "", g["size"], g["judged"],
                        "", "", "", ""])
    for j in results.get("judgements", []):
        w.writerow([j["attribute"], "", j["metric"], _f(j["value"]), _f(j.get("low")), _f(j.get("high")), "", "",
                    j["threshold"], _f(j["p_value"], ".4g"), _f(j["p_adjusted"], ".4g"), j["status"]])
    return out.getvalue()


def report_markdown(*, title: str, facts: list[tuple[str, str]], results: dict) -> str:
    lines = [f"# {title}", ""] + [f"- {k}: {v}" for k, v in facts] + ["", "## Judgements", "",
             "| Attribute | Metric | Value | Interval | Threshold | p | BH-adjusted p | Result |",
             "|---|---|---|---|---|---|---|---|"]
    for j in results.get("judgements", []):
        interval = f"{_f(j.get('low'))} – {_f(j.get('high'))}" if j.get("low") is not None else ""
        lines.append(f"| {j['attribute']} | {DISPARITIES[j['metric']][0]} | {_f(j['value'])} | {interval} | {j['threshold']} "
                     f"| {_f(j['p_value'], '.3g')} | {_f(j['p_adjusted'], '.3g')} | {j['status']}"
                     + (f" ({j['reason']})" if j.get("reason") else "") + " |")
    for key, entry in results.get("attributes", {}).items():
        lines += ["", f"## {key}", "", "| Group | Size | Judged | Selection rate | Accuracy | TPR | FPR | Precision | "
                  "Mean score | Observed rate |", "|---|---|---|---|---|---|---|---|---|---|"]
        for g in entry["groups"]:
            lines.append(f"| {g['group']} | {g['size']} | {'yes' if g['judged'] else 'no'} | "
                         + " | ".join(_f(g[m]["value"]) for m in RATES[:5])
                         + f" | {_f(g['mean_score'])} | {_f(g['observed_rate']['value'])} |")
    return "\n".join(lines) + "\n"
