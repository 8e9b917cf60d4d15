"""A bias report over N evaluation rows × 3 attributes (with their three pairwise intersections),
against Fairlearn's `MetricFrame` on the same file in the same run.

Steward's side is what the worker runs: `fairness.evaluation.scan` streams the CSV in chunks
(validating every row and aggregating confusion counts per group) and `fairness.metrics.analyse`
computes the per-group rates, the four disparities, their bootstrap intervals (1,000 replicates)
and the BH-adjusted judgements. Fairlearn's side reads the same CSV with pandas and builds one
`MetricFrame` (selection rate, accuracy, TPR, FPR, precision) per attribute and per intersection,
and takes `difference()` / `ratio()` — point estimates only (its row-resampling bootstrap at this
size would take far longer; ours is included in our time). Each side runs in its own child
process, so peak RSS is its own. Also runs Steward at N/10 to show memory does not grow with rows.

    .venv/bin/python benchmarks/fairness_report.py [--rows 1000000] [--repeats 3]

Needs the `test` extra (fairlearn, pandas). No database: the report's computation is pure.
Exit status 0 when Steward is faster and the numbers agree (max |difference| < 1e-9).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ATTRIBUTES = ["gender", "age_band", "region"]
PAIRS = [("gender", "age_band"), ("gender", "region"), ("age_band", "region")]
RATES = ["selection_rate", "accuracy", "true_positive_rate", "false_positive_rate", "precision"]
THRESHOLDS = {"max_demographic_parity_difference": 0.1, "min_demographic_parity_ratio": 0.8,
              "max_equal_opportunity_difference": 0.1, "max_equalized_odds_difference": 0.1,
              "min_group_size": 30, "alpha": 0.05, "confidence": 0.95, "bootstrap_reps": 1000}


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not `ru_maxrss`: Linux carries that across
    fork + exec, so a child would report the parent's peak (the parent built the data)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_file(rows: int, path: str) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20261130)
    gender = rng.choice(["f", "m", "x"], rows, p=[0.48, 0.48, 0.04])
    age = rng.choice(["<25", "25-40", "40-55", "55-70", ">70"], rows)
    region = rng.choice([f"r{i}" for i in range(8)], rows)
    label = (rng.random(rows) < 0.35 + 0.05 * (gender == "m")).astype(np.int8)
    score = np.clip(0.2 + 0.5 * label + rng.normal(0, 0.2, rows), 0, 1).round(4)
    pred = (score > 0.5).astype(np.int8)
    pd.DataFrame({"prediction": pred, "label": label, "score": score, "gender": gender, "age_band": age,
                  "region": region}).to_csv(path, index=False)


def child_steward(path: str) -> dict:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fairness.evaluation import scan
    from fairness.metrics import Aggregator, analyse

    start = time.perf_counter()
    agg = Aggregator(attributes=ATTRIBUTES, intersections=PAIRS)
    rows, bad, _ = scan(path, "csv", attributes=ATTRIBUTES, aggregator=agg)
    result = analyse(agg, thresholds=THRESHOLDS, seed=1)
    seconds = time.perf_counter() - start
    numbers = {}
    for key, entry in result["attributes"].items():
        for g in entry["groups"]:
            for m in RATES:
                numbers[f"{key}|{g['group']}|{m}"] = g[m]["value"]
        for m, d in entry["disparities"].items():
            numbers[f"{key}|{m}"] = d["value"]
    return {"seconds": seconds, "rows": rows, "bad": bad, "numbers": numbers,
            "peak_rss_mb": peak_rss_mb()}


def child_fairlearn(path: str) -> dict:
    import pandas as pd
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    start = time.perf_counter()
    df = pd.read_csv(path, dtype={"gender": str, "age_band": str, "region": str})
    metrics = {"selection_rate": selection_rate, "accuracy": accuracy_score, "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate, "precision": precision_score}
    numbers = {}
    features = {a: df[a] for a in ATTRIBUTES}
    features.update({f"{a} × {b}": df[a] + " × " + df[b] for a, b in PAIRS})
    for key, sf in features.items():
        frame = MetricFrame(metrics=metrics, y_true=df["label"], y_pred=df["prediction"], sensitive_features=sf)
        for group, row in frame.by_group.iterrows():
            for m in RATES:
                numbers[f"{key}|{group}|{m}"] = float(row[m])
        diff, ratio = frame.difference(), frame.ratio()
        numbers[f"{key}|demographic_parity_difference"] = float(diff["selection_rate"])
        numbers[f"{key}|demographic_parity_ratio"] = float(ratio["selection_rate"])
        numbers[f"{key}|equal_opportunity_difference"] = float(diff["true_positive_rate"])
        numbers[f"{key}|equalized_odds_difference"] = float(max(diff["true_positive_rate"], diff["false_positive_rate"]))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "numbers": numbers, "peak_rss_mb": peak_rss_mb()}


def run_child(kind: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--file", path], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        print(json.dumps((child_steward if args.child == "steward" else child_fairlearn)(args.file)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        small, big = os.path.join(tmp, "small.csv"), os.path.join(tmp, "big.csv")
        make_file(args.rows // 10, small)
        make_file(args.rows, big)
        print(f"evaluation set: {args.rows:,} rows × {len(ATTRIBUTES)} attributes + {len(PAIRS)} intersections, "
              f"{os.path.getsize(big) / 1e6:.1f} MB CSV")
        ours_small = run_child("steward", small)
        ours, theirs = [], []
        for _ in range(args.repeats):  # alternate, so both see the same load
            ours.append(run_child("steward", big))
            theirs.append(run_child("fairlearn", big))
    best_ours = min(ours, key=lambda r: r["seconds"])
    best_theirs = min(theirs, key=lambda r: r["seconds"])
    a, b = best_ours["numbers"], best_theirs["numbers"]
    missing = sorted(set(a) ^ set(b))
    diffs = [abs(a[k] - b[k]) for k in a if k in b and a[k] is not None and b[k] == b[k]]
    worst = max(diffs) if diffs else float("nan")
    ratio = best_theirs["seconds"] / best_ours["seconds"]
    print(f"Steward  (stream + validate + aggregate + 1,000-rep bootstrap + BH): best {best_ours['seconds']:.2f} s "
          f"of {args.repeats}, peak RSS {best_ours['peak_rss_mb']:.0f} MB "
          f"(at {args.rows // 10:,} rows: {ours_small['seconds']:.2f} s, {ours_small['peak_rss_mb']:.0f} MB)")
    print(f"Fairlearn (pandas read_csv + 6 MetricFrames, point estimates): best {best_theirs['seconds']:.2f} s "
          f"of {args.repeats}, peak RSS {best_theirs['peak_rss_mb']:.0f} MB")
    print(f"speed: Steward {ratio:.2f}× Fairlearn's speed; memory: {best_ours['peak_rss_mb'] / best_theirs['peak_rss_mb']:.2f}× "
          f"Fairlearn's peak")
    print(f"numbers compared: {len(diffs)}; max |difference| {worst:.2e}; keys on one side only: {len(missing)}")
    ok = ratio > 1 and worst < 1e-9 and not missing and best_ours["bad"] == 0
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
