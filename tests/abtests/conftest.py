"""Experiments built through the services, and helpers to upload events and run analyses."""

import csv
import hashlib
import io
import json

import pytest

from abtests import lifecycle
from abtests.models import Analysis
from abtests.tasks import analysis_run_task


@pytest.fixture
def versions(inventory, cast):
    """v1 (champion), v2 and v3 of dana's `credit-gbm`."""
    from registry import services

    model = inventory["model"]
    extra = [
        services.model_version_register(
            actor=cast["dana"], model=model, artifact_uri=f"s3://models/{n}", sha256=hashlib.sha256(str(n).encode()).hexdigest()
        )
        for n in (2, 3)
    ]
    return [inventory["version"], *extra]


DESIGNS = {
    # small horizons so tests reach them with a few hundred events
    "welch_t": dict(metric_name="revenue", metric_type="continuous", sd=1.0, mde=0.5, baseline=10.0),
    "mann_whitney_u": dict(metric_name="basket", metric_type="continuous", sd=1.0, mde=0.5),
    "two_proportion_z": dict(metric_name="conversion", metric_type="binary", baseline=0.3, mde=0.15),
    "paired_t": dict(metric_name="abs_error", metric_type="continuous", sd=1.0, mde=0.5, direction="decrease"),
    "wilcoxon_signed_rank": dict(metric_name="abs_error", metric_type="continuous", sd=1.0, mde=0.5, direction="decrease"),
    "mcnemar": dict(metric_name="correct", metric_type="binary", baseline=0.5, mde=0.2),
}
SHADOW = {"paired_t", "wilcoxon_signed_rank", "mcnemar"}


@pytest.fixture
def make_experiment(cast, versions):
    def make(test="welch_t", *, start=True, actor="dana", challengers=None, **overrides):
        fields = {"name": f"{test} experiment", "test": test, "daily_units": 100.0, **DESIGNS[test]}
        fields["kind"] = "shadow" if test in SHADOW else "ab"
        fields.update(overrides)
        exp = lifecycle.experiment_create(
            actor=cast[actor], model=versions[0].model, champion=versions[0],
            challengers=challengers or [versions[1]], **fields,
        )
        if start:
            exp = lifecycle.experiment_start(actor=cast[actor], experiment=exp)
        return exp

    return make


def csv_body(header, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def ndjson_body(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def ab_csv(control, treatment, names=("control", "treatment"), prefix="u") -> bytes:
    rows = [(f"{prefix}{i}", names[0], repr(float(v))) for i, v in enumerate(control)]
    rows += [(f"{prefix}{len(control) + i}", names[1], repr(float(v))) for i, v in enumerate(treatment)]
    return csv_body(["unit_id", "arm", "value"], rows)


def shadow_csv(champion, challenger, prefix="r") -> bytes:
    rows = [(f"{prefix}{i}", repr(float(a)), repr(float(b))) for i, (a, b) in enumerate(zip(champion, challenger, strict=True))]
    return csv_body(["request_id", "champion_value", "challenger_value"], rows)


@pytest.fixture
def upload(api):
    def post(exp, body: bytes, *, user="dana", content_type="text/csv"):
        return api(user).generic("POST", f"/api/v1/experiments/{exp.pk}/events/", body, content_type=content_type)

    return post


@pytest.fixture
def analyse(api, django_capture_on_commit_callbacks):
    """Request an analysis through the API and run its task in this process (the worker test
    covers the real queue); returns the GET answer."""

    def run(exp, user="dana"):
        client = api(user)
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(f"/api/v1/experiments/{exp.pk}/analyses/")
        assert response.status_code == 202, response.content
        analysis = Analysis.objects.get(pk=response.json()["id"])
        analysis_run_task(analysis.job_id)
        got = client.get(f"/api/v1/experiments/{exp.pk}/analyses/{analysis.pk}/")
        assert got.status_code == 200
        return got.json()

    return run
