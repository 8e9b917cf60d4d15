"""Steward against MLflow's own tracking server, same inventory, same PostgreSQL, same load.

Issue 11: through the MLflow protocol Steward should answer at least 3× MLflow's requests per
second on each call, with p99 under 50 ms, on a 2-core machine. What this does:

1. Creates two databases on the PostgreSQL of `DATABASE_URL` (as `scripts/services.sh` starts
   it): `steward_bench` (migrated) and `mlflow_bench` (MLflow's own schema, made by its store).
2. Loads the same inventory into both: `--models` registered models × `--versions` versions,
   each model with a short Markdown description, each version an external source, in bulk
   (Django's `bulk_create`; MLflow's SQLAlchemy models): through either write path, 110,000
   objects take longer than this machine's time allows. The write path is measured in step 4.
3. Starts both servers: Steward under gunicorn with the production options of docker-compose.yml
   (5 sync workers, access log; persistent database connections), MLflow with
   `mlflow server` and its default workers, from its own virtualenv `benchmarks/.venv-mlflow` (made on first run; MLflow is not a Steward dependency).
4. Population rate over HTTP, same client for both: `--sample` new models × `--versions`
   versions registered through the MLflow protocol by 8 threads; versions per second.
5. Reads with `wrk` (Debian's), 8 connections, `Connection: close`, `--duration` seconds per
   run after 2 s of the same load not counted (warm-up), random model per request (a Lua
   script), alternating MLflow / Steward-MLflow / Steward-`/api/v1/` in each of `--rounds` rounds, best round counted: get model, get version,
   search the versions of a model, search 100 models. Requests/s, p50, p99, non-2xx count.

Run it (about 10 minutes at 10,000 × 10 on 2 cores):

    bash -c 'source scripts/bootstrap.sh; source scripts/services.sh; services_require wrk; \\
             services_start benchmarking; python -m benchmarks.mlflow_compare'

Exit status 0 when every call, through the MLflow protocol and through `/api/v1/`, reaches the
target (ratio and p99, no non-2xx answer), 1 otherwise.
"""

import argparse
import concurrent.futures
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import requests

ROOT = Path(__file__).resolve().parent.parent
MLFLOW_VENV = ROOT / "benchmarks" / ".venv-mlflow"
MLFLOW_VERSION = "3.17.*"
TARGET_RATIO = 3.0
TARGET_P99_MS = 50.0
PASSWORD = "bench-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _db_url(base: str, name: str, scheme: str | None = None) -> str:
    parsed = urlparse(base)
    return urlunparse(parsed._replace(path=f"/{name}", scheme=scheme or parsed.scheme))


def _create_databases(base: str) -> None:
    import psycopg

    with psycopg.connect(_db_url(base, "postgres", "postgresql"), autocommit=True) as conn:
        for name in ("steward_bench", "mlflow_bench"):
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")


def _mlflow_python() -> str:
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_VERSION}", "psycopg2-binary"],
                       check=True)
    return str(python)


# --- loading ---------------------------------------------------------------------------------


def populate_steward(models: int, versions: int) -> dict:
    """In a child process with DATABASE_URL → steward_bench: a user with a token, a use case,
    and the inventory written in bulk (`bulk_create`, no audit events: the reads measured do not
    look at the audit trail; the write path is measured over HTTP by `population_rate`)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    from core.roles import Role
    from core.services import token_create
    from registry import services
    from registry.models import ModelVersion, RegisteredModel

    user = get_user_model().objects.create_user("bench", "bench@example.com", PASSWORD)
    user.groups.add(Group.objects.get_or_create(name=Role.DATA_SCIENTIST)[0])
    use_case = services.use_case_create(actor=user, name="Benchmark", purpose="Load")
    start = time.perf_counter()
    chunk = 1000
    for first in range(0, models, chunk):
        with transaction.atomic():
            made = RegisteredModel.objects.bulk_create([
                RegisteredModel(name=f"bench-{i:05d}", owner=user, use_case=use_case, description=DESCRIPTION.format(i=i))
                for i in range(first, min(first + chunk, models))
            ])
            ModelVersion.objects.bulk_create([
                ModelVersion(model=m, number=n + 1, artifact_uri=f"s3://bench/{m.name}/{n}", sha256=f"{m.pk:032x}{n:032x}",
                             training_run=f"run-{n}", status=ModelVersion.Status.REFERENCED, created_by=user)
                for m in made for n in range(versions)
            ], batch_size=5000)
    seconds = time.perf_counter() - start
    _, key = token_create(user=user, actor=user, name="bench")
    return {"token": key, "use_case": use_case.pk, "seconds": seconds}


DESCRIPTION = "Benchmark model **{i}**, see [the docs](https://example.com/{i})."

MLFLOW_POPULATE = r"""
import sys, time
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.model_registry.dbmodels.models import SqlModelVersion, SqlRegisteredModel
TrackingStore(sys.argv[1], "mlartifacts")  # creates the whole schema, as `mlflow server` would
store = SqlAlchemyStore(sys.argv[1])
models, versions, description = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start = time.perf_counter()
now = int(time.time() * 1000)
for first in range(0, models, 1000):
    with store.ManagedSessionMaker() as session:
        names = [f"bench-{i:05d}" for i in range(first, min(first + 1000, models))]
        session.add_all([SqlRegisteredModel(name=name, creation_time=now, last_updated_time=now,
                                            description=description.format(i=int(name[6:]))) for name in names])
        session.flush()
        session.add_all([SqlModelVersion(name=name, version=n + 1, creation_time=now, last_updated_time=now,
                                         source=f"s3://bench/{name}/{n}", run_id=f"run-{n}", user_id="bench")
                         for name in names for n in range(versions)])
print(time.perf_counter() - start)
"""


# --- servers ---------------------------------------------------------------------------------


def _wait_http(url: str, proc, seconds=120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {url}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.5)
    raise RuntimeError(f"server did not answer: {url}")


def production_gunicorn_args() -> list[str]:
    """The web service's gunicorn options in docker-compose.yml (what docs/operations.md runs in
    production), without the bind address: the benchmark measures that configuration."""
    compose = (ROOT / "docker-compose.yml").read_text()
    command = re.search(r"^\s+command: gunicorn portal\.wsgi:application (.+)$", compose, re.M).group(1).split()
    args = []
    while command:
        option = command.pop(0)
        value = command.pop(0) if command and not command[0].startswith("--") else None
        if option != "--bind":
            args += [option] + ([value] if value is not None else [])
    return args


def start_steward(env: dict, gunicorn_args: list[str], log) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--bind", f"127.0.0.1:{port}",
         *gunicorn_args, "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_http(url + "/healthz", proc)
    return proc, url


def start_mlflow(python: str, db: str, log, workdir: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [python, "-m", "mlflow", "server", "--backend-store-uri", db, "--host", "127.0.0.1", "--port", str(port),
         "--artifacts-destination", os.path.join(workdir, "mlartifacts")],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_http(url + "/health", proc, seconds=300)
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- population rate over HTTP ---------------------------------------------------------------


def population_rate(url: str, headers: dict, prefix: str, models: int, versions: int, use_case: int) -> tuple[float, int]:
    """Versions registered per second through the MLflow protocol, 8 client threads, each
    creating a model and then its versions (what `mlflow.register_model` does). A request whose
    connection is dropped is sent again, as MLflow's client does; (rate, dropped) is returned."""
    dropped = []

    def send(s, path, body):
        for _ in range(3):
            try:
                r = s.post(f"{url}/api/2.0/mlflow/{path}", json=body)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                dropped.append(path)
                continue
            if r.status_code == 400 and "RESOURCE_ALREADY_EXISTS" in r.text:
                return  # the dropped attempt had gone through
            r.raise_for_status()
            return
        raise RuntimeError(f"{url}: {path} failed three times")

    def one(i):
        with requests.Session() as s:
            # As wrk below: a new connection per request (gunicorn's sync workers close them).
            s.headers.update({**headers, "Connection": "close"})
            name = f"{prefix}-{i:05d}"
            send(s, "registered-models/create", {"name": name, "tags": [{"key": "steward.use_case", "value": str(use_case)}]})
            for n in range(versions):
                send(s, "model-versions/create", {
                    "name": name, "source": f"s3://bench/{prefix}/{i}/{n}", "run_id": f"run-{n}",
                    "tags": [{"key": "steward.sha256", "value": f"{i:032x}{n:032x}"}]})

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(models)))
    return models * versions / (time.perf_counter() - start), len(dropped)


# --- reads with wrk --------------------------------------------------------------------------

LUA = """
math.randomseed(%(seed)d)
request = function()
  local i = math.random(0, %(n)d - 1)
  return wrk.format("GET", string.format("%(pattern)s", i))
end
"""


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, path: str, headers: dict, models: int, duration: int, workdir: str, warmup: int = 2) -> dict:
    """Requests/s and latencies of `duration` seconds of load, after `warmup` seconds of the same
    load that are not counted (every worker has loaded its code and opened its connection)."""
    if warmup:
        run_wrk(url, path, headers, models, warmup, workdir, warmup=0)
    pattern = path.replace("%", "%%").replace("{i}", "%05d")
    script = os.path.join(workdir, "random.lua")
    with open(script, "w") as fh:
        fh.write(LUA % {"seed": int(time.time()), "n": models, "pattern": pattern})
    cmd = ["wrk", "-t", "2", "-c", "8", "-d", f"{duration}s", "--timeout", "10s", "--latency", "-s", script, "-H", "Connection: close"]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return {"rps": rps, "p50": _ms(latency["50"]), "p99": _ms(latency["99"]),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(0) if errors else ""}


CALLS = {
    "get model": ("/api/2.0/mlflow/registered-models/get?name=bench-{i}", "/api/v1/models/bench-{i}/"),
    "get version": ("/api/2.0/mlflow/model-versions/get?name=bench-{i}&version=5",
                    "/api/v1/models/bench-{i}/versions/5/"),
    "search versions of a model": ("/api/2.0/mlflow/model-versions/search?filter=" + quote("name='bench-{i}'", safe="{}"),
                                   "/api/v1/models/bench-{i}/versions/"),
    "search 100 models": ("/api/2.0/mlflow/registered-models/search?max_results=100",
                          "/api/v1/models/?page_size=100"),
}


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()
    return f"{os.cpu_count()} cores ({cpu}), load average {load[0]:.1f}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--sample", type=int, default=40, help="models registered over HTTP for the population rate")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--gunicorn", default=None,
                        help="Steward's gunicorn options (default: the production ones in docker-compose.yml)")
    parser.add_argument("--populate-steward", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.populate_steward:
        print(json.dumps(populate_steward(args.models, args.versions)))
        return 0

    base = os.environ["DATABASE_URL"]
    steward_db = _db_url(base, "steward_bench", "postgres")
    mlflow_db = _db_url(base, "mlflow_bench", "postgresql+psycopg2")
    workdir = tempfile.mkdtemp(prefix="mlflow-bench-")
    env = {**os.environ, "DATABASE_URL": steward_db, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"),
           "STEWARD_VAR_DIR": os.path.join(workdir, "var"), "MEDIA_ROOT": os.path.join(workdir, "media"),
           "AXES_ENABLED": "false", "LOG_LEVEL": "WARNING",
           # One token stands for many clients here: the per-token limit (50 requests/s by default,
           # docs/api.md) would answer 429 within seconds. The check itself still runs on every
           # request, against the request history it keeps.
           "API_THROTTLE_TOKEN": "1000000/minute"}
    os.makedirs(os.path.join(workdir, "var", "staticfiles"))
    print(f"machine: {machine()}", flush=True)
    python = _mlflow_python()
    _create_databases(base)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)

    print(f"loading {args.models} models × {args.versions} versions into both …", flush=True)
    out = subprocess.run([sys.executable, "-m", "benchmarks.mlflow_compare", "--populate-steward",
                          "--models", str(args.models), "--versions", str(args.versions)],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    loader = subprocess.run([python, "-c", MLFLOW_POPULATE, mlflow_db, str(args.models), str(args.versions), DESCRIPTION],
                            cwd=workdir, capture_output=True, text=True)
    if loader.returncode:
        sys.exit(f"loading MLflow failed:\n{loader.stderr[-3000:]}")
    mlflow_seconds = float(loader.stdout.split()[-1])
    total = args.models * (args.versions + 1)
    print(f"bulk load of {total} objects: Steward {loaded['seconds']:.0f} s, MLflow {mlflow_seconds:.0f} s "
          "(not compared: bulk inserts, not the write path)")

    steward_log = open(os.path.join(workdir, "steward.log"), "w")  # noqa: SIM115
    mlflow_log = open(os.path.join(workdir, "mlflow.log"), "w")  # noqa: SIM115
    gunicorn_args = args.gunicorn.split() if args.gunicorn else production_gunicorn_args()
    print(f"Steward: gunicorn {' '.join(gunicorn_args)}", flush=True)
    steward, steward_url = start_steward(env, gunicorn_args, steward_log)
    mlflow, mlflow_url = start_mlflow(python, mlflow_db, mlflow_log, workdir)
    auth = {"Authorization": f"Bearer {loaded['token']}"}
    ok = True
    try:
        rates, dropped = {}, {}
        for who, url, headers in (("MLflow", mlflow_url, {}), ("Steward", steward_url, auth)):
            rates[who], dropped[who] = population_rate(url, headers, "pop", args.sample, args.versions, loaded["use_case"])
        print(f"\npopulation over HTTP ({args.sample} models × {args.versions} versions, 8 threads): "
              f"MLflow {rates['MLflow']:.1f} versions/s ({dropped['MLflow']} dropped connections), "
              f"Steward {rates['Steward']:.1f} versions/s ({dropped['Steward']} dropped), "
              f"ratio {rates['Steward'] / rates['MLflow']:.2f}×", flush=True)

        print(f"reads start, {machine()}", flush=True)
        best: dict[tuple[str, str], dict] = {}
        targets = [("MLflow", mlflow_url, {}, 0), ("Steward (MLflow protocol)", steward_url, auth, 0),
                   ("Steward (/api/v1/)", steward_url, {"Authorization": f"Token {loaded['token']}"}, 1)]
        for round_ in range(args.rounds):
            for call, paths in CALLS.items():
                order = targets if round_ % 2 == 0 else list(reversed(targets))
                for who, url, headers, which in order:
                    result = run_wrk(url, paths[which], headers, args.models, args.duration, workdir)
                    key = (call, who)
                    if key not in best or result["rps"] > best[key]["rps"]:
                        best[key] = result
                    print(f"  round {round_ + 1} {call:28s} {who:27s} {result['rps']:8.1f} req/s "
                          f"p50 {result['p50']:6.1f} ms p99 {result['p99']:6.1f} ms non-2xx {result['non2xx']}",
                          flush=True)

        print(f"reads done, {machine()}", flush=True)
        print("\n| call | MLflow req/s (p50/p99 ms) | Steward MLflow protocol | ratio | Steward /api/v1/ | ratio |")
        print("|---|---:|---:|---:|---:|---:|")
        for call in CALLS:
            m, s, v = (best[(call, who)] for who, *_ in targets)
            ratio, ratio_v1 = s["rps"] / m["rps"], v["rps"] / m["rps"]
            met = ratio >= TARGET_RATIO and s["p99"] < TARGET_P99_MS and s["non2xx"] == 0
            met_v1 = ratio_v1 >= TARGET_RATIO and v["p99"] < TARGET_P99_MS and v["non2xx"] == 0
            ok = ok and met and met_v1
            print(f"| {call} | {m['rps']:.0f} ({m['p50']:.0f}/{m['p99']:.0f}) | {s['rps']:.0f} ({s['p50']:.0f}/{s['p99']:.0f}) "
                  f"| **{ratio:.2f}×** {'PASS' if met else 'FAIL'} | {v['rps']:.0f} ({v['p50']:.0f}/{v['p99']:.0f}) "
                  f"| **{ratio_v1:.2f}×** {'PASS' if met_v1 else 'FAIL'} |")
    except Exception:
        print(f"failed; server logs kept in {workdir}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    finally:
        stop(steward)
        stop(mlflow)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
