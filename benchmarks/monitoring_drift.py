"""A drift check of 1,000,000 production rows × 20 features against a 100,000-row reference,
from upload to verdicts, next to the same comparison by Evidently in the same run.

Issue 10's target: at least 10× faster than Evidently, identical per-feature verdicts under
Evidently's default methods, and a worker under 300 MB at its peak.

What it does:

1. Generates the data with a fixed seed: 15 numeric features (normal, log-normal, uniform,
   integer counts; some shifted by 0.02–0.4 standard deviations, some not) and 5 categorical ones
   (3–12 categories; two with moved shares), written as Parquet.
2. Steward, through the services exactly as the API calls them, each step in a fresh child
   process so its peak RSS is that step's alone: the reference upload (profile), the production
   batch upload (summaries on the reference grid), and the check as the worker runs it
   (`check_part_task(job_id)` for every part, then the verdicts are stored). The time from upload
   to verdicts is batch upload + check (the reference is uploaded once per version, before
   production); the reference upload is shown apart.
3. Evidently (installed only in `benchmarks/.venv-evidently`, created here on first use, with
   `pandas<3` as Evidently needs): reads the same Parquet files into pandas and runs the legacy
   `Report([DataDriftPreset()])` with the same column mapping, in its own process (time and peak
   RSS).
4. Prints both, the ratio and a per-feature comparison of method, drift score and verdict.

Runs on the embedded default (SQLite in a temporary folder) unless DATABASE_URL is set.

    .venv/bin/python -m benchmarks.monitoring_drift                 # 1M × 20 vs 100k
    .venv/bin/python -m benchmarks.monitoring_drift --wide          # also 100k × 1,000 features
    .venv/bin/python -m benchmarks.monitoring_drift --rows 200000   # quicker
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY_VENV = ROOT / "benchmarks" / ".venv-evidently"
TARGET_RATIO, TARGET_MIB = 10.0, 300.0

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def _rss_mib() -> float:
    """Peak RSS of this process. VmHWM, not getrusage's ru_maxrss: on Linux a child's ru_maxrss
    starts from its parent's RSS at fork (the benchmark's parent holds the generated data)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- data -----------------------------------------------------------------------------------


def generate(path: Path, n: int, *, seed: int, current: bool, n_numeric=15, n_categorical=5) -> dict:
    """Write a Parquet file; returns {column: kind}. Current data drift on some features."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    # Per numeric feature: (distribution, shift in sd units when current).
    shifts = [0.0, 0.02, 0.05, 0.08, 0.12, 0.2, 0.4, 0.0, 0.0, 0.15, 0.0, 0.3, 0.0, 0.06, 0.0]
    cols, kinds = {}, {}
    for i in range(n_numeric):
        shift = shifts[i % len(shifts)] if current else 0.0
        kind = i % 4
        if kind == 0:
            x = rng.normal(10 + shift * 2, 2, n)
        elif kind == 1:
            x = rng.lognormal(0 + shift, 1, n)  # skewed; shift in log-sd units
        elif kind == 2:
            x = rng.uniform(0, 1, n) + shift * 0.2887
        else:
            x = rng.poisson(30 + shift * 5.5, n).astype(float)
        cols[f"num_{i:03d}"] = np.round(x, 6)
        kinds[f"num_{i:03d}"] = "numeric"
    for j in range(n_categorical):
        k = [3, 4, 5, 8, 12][j % 5]
        p = np.linspace(1, 2, k)
        if current and j % 5 in (1, 3):
            p = p[::-1] if j % 5 == 1 else p * np.r_[np.ones(k - 1), 1.15]
        p = p / p.sum()
        cols[f"cat_{j:03d}"] = np.array([f"c{v}" for v in range(k)])[rng.choice(k, n, p=p)]
        kinds[f"cat_{j:03d}"] = "categorical"
    pq.write_table(pa.table(cols), path, row_group_size=131_072)
    return kinds


# --- Steward (child processes) ---------------------------------------------------------------


def _django():
    import django

    django.setup()


def child(step: str, args: dict) -> None:
    _django()
    import hashlib

    from django.contrib.auth import get_user_model

    from monitoring import ingest, services
    from monitoring.tasks import check_part_task
    from registry.models import ModelVersion

    version = ModelVersion.objects.get(pk=args["version"])
    dana = get_user_model().objects.get(username="dana")
    start = time.perf_counter()
    out = {}
    if step in ("reference", "batch"):
        path = args["path"]
        h = hashlib.sha256()
        with open(path, "rb") as fh:  # the API hashes while the upload streams in; counted here
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        if step == "reference":
            ingest.reference_upload(actor=dana, version=version, path=path, filename="reference.parquet",
                                      sha256=h.hexdigest(), feature_types=args.get("kinds"),
                                      sample_cap=args.get("sample_cap"))
        else:
            batch, _ = ingest.batch_upload(actor=dana, version=version, path=path, filename="current.parquet",
                                             sha256=h.hexdigest(), window_start=args["start"], window_end=args["end"])
            out["blob_mib"] = len(bytes(batch.summary)) / 2**20
    else:
        from monitoring.models import CheckPart, DriftCheck

        check = services.check_request(actor=dana, version=version, window_start=args["start"], window_end=args["end"])
        for job_id in CheckPart.objects.filter(check_run=check).values_list("job_id", flat=True):
            check_part_task(job_id)
        check = DriftCheck.objects.get(pk=check.pk)
        out["verdicts"] = {f.feature: [f.method, f.statistic, f.drifted] for f in check.features.all()}
        out["status"] = check.drift_status
    out["seconds"] = time.perf_counter() - start
    out["rss_peak_mib"] = _rss_mib()
    print("RESULT " + json.dumps(out))


def run_child(step: str, args: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.monitoring_drift", "--child", step, json.dumps(args)],
                          cwd=ROOT, capture_output=True, text=True, env=os.environ.copy())
    _show_profile(proc)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{step} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _show_profile(proc) -> None:
    if os.environ.get("STEWARD_BENCH_PROFILE"):
        print(proc.stderr[-6000:])


def steward(ref_path: Path, cur_path: Path, kinds: dict, tag: str, *, sample_cap=None, chunk_size=1000) -> dict:
    _django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from core.roles import Role
    from monitoring.services import monitor_configure
    from registry import services as registry

    User = get_user_model()
    dana = User.objects.filter(username="dana").first()
    if dana is None:
        dana = User.objects.create_user("dana", "dana@example.com")
        dana.groups.add(Group.objects.get_or_create(name=Role.DATA_SCIENTIST)[0])
        rita = User.objects.create_user("rita", "rita@example.com")
        rita.groups.add(Group.objects.get_or_create(name=Role.RISK_OFFICER)[0])
    rita = User.objects.get(username="rita")
    use_case = registry.use_case_create(actor=dana, name=f"Bench {tag}")
    model = registry.model_create(actor=dana, name=f"bench-{tag}", use_case=use_case)
    version = registry.model_version_register(actor=dana, model=model, artifact_uri="s3://m/1", sha256="1" * 64)
    # One worker task for all features (standard case): one worker's cost and memory. The wide
    # case runs parts of `chunk_size` features one after the other in the same process.
    monitor_configure(actor=rita, version=version, chunk_size=chunk_size)
    window = {"start": "2026-11-01T00:00:00+00:00", "end": "2026-11-02T00:00:00+00:00"}
    ref = run_child("reference", {"version": version.pk, "path": str(ref_path), "kinds": kinds, "sample_cap": sample_cap})
    batch = run_child("batch", {"version": version.pk, "path": str(cur_path), **window})
    check = run_child("check", {"version": version.pk, **window})
    return {"reference": ref, "batch": batch, "check": check}


# --- Evidently --------------------------------------------------------------------------------

EVIDENTLY_SCRIPT = r"""
import json, resource, sys, time
import pandas as pd
from evidently.legacy.metric_preset import DataDriftPreset
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report
import evidently

ref_path, cur_path, kinds = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
start = time.perf_counter()
ref = pd.read_parquet(ref_path)
cur = pd.read_parquet(cur_path)
mapping = ColumnMapping(numerical_features=[c for c, k in kinds.items() if k == "numeric"],
                        categorical_features=[c for c, k in kinds.items() if k == "categorical"],
                        target=None, prediction=None)
report = Report(metrics=[DataDriftPreset()])
report.run(reference_data=ref, current_data=cur, column_mapping=mapping)
result = report.as_dict()
seconds = time.perf_counter() - start
table = next(m["result"] for m in result["metrics"] if "drift_by_columns" in m["result"])
verdicts = {c: [v["stattest_name"], v["drift_score"], v["drift_detected"]] for c, v in table["drift_by_columns"].items()}
hwm = next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print("RESULT " + json.dumps({"seconds": seconds, "rss_peak_mib": hwm,
                              "verdicts": verdicts, "version": evidently.__version__}))
"""


def evidently_env() -> tuple[Path | None, str]:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print("==> creating benchmarks/.venv-evidently (evidently, pandas<3, pyarrow)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3", "pyarrow"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            return None, f"pip install evidently failed: {proc.stderr.strip()[-800:]}"
    return python, ""


def evidently(ref_path: Path, cur_path: Path, kinds: dict, timeout: int = 3600) -> dict:
    python, why = evidently_env()
    if python is None:
        return {"error": why}
    try:
        proc = subprocess.run([str(python), "-c", EVIDENTLY_SCRIPT, str(ref_path), str(cur_path), json.dumps(kinds)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stderr or proc.stdout)[-1500:]}


# --- report -----------------------------------------------------------------------------------


# Evidently reports its tests by display name.
EVIDENTLY_NAMES = {"Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance": "jensenshannon",
                   "K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z", "PSI": "psi"}


def compare(name: str, ours: dict, theirs: dict) -> bool:
    batch, check, ref = ours["batch"], ours["check"], ours["reference"]
    total = batch["seconds"] + check["seconds"]
    print(f"\n## {name}\n")
    print(f"Steward  reference upload {ref['seconds']:.2f} s (peak {ref['rss_peak_mib']:.0f} MiB, not counted below)")
    print(f"Steward  batch upload {batch['seconds']:.2f} s (peak {batch['rss_peak_mib']:.0f} MiB, summary {batch['blob_mib']:.1f} MiB)"
          f" + check {check['seconds']:.2f} s (worker peak {check['rss_peak_mib']:.0f} MiB) = {total:.2f} s")
    if "error" in theirs:
        print(f"Evidently: not run — {theirs['error']}")
        return False
    ratio = theirs["seconds"] / total
    print(f"Evidently {theirs['version']}: {theirs['seconds']:.2f} s (peak {theirs['rss_peak_mib']:.0f} MiB)")
    print(f"ratio Evidently / Steward: {ratio:.1f}× (target ≥ {TARGET_RATIO:.0f}×)")
    print("\n| feature | Steward method | Steward score | drift | Evidently method | Evidently score | drift | same |")
    print("|---|---|---:|---|---|---:|---|---|")
    same_all, worst = True, 0.0
    for feature in sorted(ours["check"]["verdicts"]):
        m, s, d = ours["check"]["verdicts"][feature]
        em, es, ed = theirs["verdicts"].get(feature, ["?", float("nan"), None])
        em = EVIDENTLY_NAMES.get(em, em)
        same = d == ed and m == em
        same_all &= same
        if es:
            worst = max(worst, abs(s - es) / abs(es))
        print(f"| {feature} | {m} | {s:.6g} | {d} | {em} | {es:.6g} | {ed} | {'yes' if same else 'NO'} |")
    print(f"\nverdicts identical: {same_all}; largest relative score difference {worst:.2e}")
    memory_ok = check["rss_peak_mib"] < TARGET_MIB
    print(f"worker peak {check['rss_peak_mib']:.0f} MiB < {TARGET_MIB:.0f} MiB: {memory_ok}")
    return same_all and ratio >= TARGET_RATIO and memory_ok


def _profiled_child(step, args):
    """STEWARD_BENCH_PROFILE=1: print where a child step spends its time (stderr)."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.runcall(child, step, args)
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumtime").print_stats("monitoring|numpy|pyarrow", 30)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--ref-rows", type=int, default=100_000)
    parser.add_argument("--wide", action="store_true", help="also 100,000 rows × 1,000 features")
    parser.add_argument("--wide-only", action="store_true", help="only the wide case")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and database")
    parser.add_argument("--evidently-timeout", type=int, default=3600, help="seconds before Evidently is given up")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run = _profiled_child if os.environ.get("STEWARD_BENCH_PROFILE") else child
        run(args.child[0], json.loads(args.child[1]))
        return 0

    work = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("STEWARD_VAR_DIR", str(work / "var"))
    os.environ.setdefault("STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage")
    _django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; data in {work}")
    # (name, current rows, reference rows, numeric, categorical, sample cap, features per part)
    cases = [("standard", args.rows, args.ref_rows, 15, 5, None, 1000)]
    if args.wide or args.wide_only:
        # 1,000 features: the reference keeps a 10,000-value sample per numeric feature (the
        # profile says so), and the check runs in parts of 50 features.
        cases.append(("wide", 100_000, 100_000, 750, 250, 10_000, 50))
    if args.wide_only:
        cases = cases[1:]
    ok = True
    for name, rows, ref_rows, n_num, n_cat, sample_cap, chunk_size in cases:
        ref_path, cur_path = work / f"{name}-reference.parquet", work / f"{name}-current.parquet"
        t = time.perf_counter()
        kinds = generate(ref_path, ref_rows, seed=1, current=False, n_numeric=n_num, n_categorical=n_cat)
        generate(cur_path, rows, seed=2, current=True, n_numeric=n_num, n_categorical=n_cat)
        print(f"\n{name}: generated {ref_rows:,} reference and {rows:,} current rows × {len(kinds)} features "
              f"in {time.perf_counter() - t:.1f} s")
        ours = steward(ref_path, cur_path, kinds, name, sample_cap=sample_cap, chunk_size=chunk_size)
        theirs = ({"error": "skipped (--skip-evidently)"} if args.skip_evidently
                  else evidently(ref_path, cur_path, kinds, timeout=args.evidently_timeout))
        ok &= compare(f"{name}: {rows:,} × {len(kinds)} against {ref_rows:,}", ours, theirs)
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
