"""Monitoring fixtures: data files made with a fixed seed, and uploads through the API."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

NUMERIC = [f"x{i}" for i in range(4)]
CATS = ["colour", "plan"]


def frame(n, *, seed, shift=0.0, cat_shift=False, start=0, scores=False):
    """Columns x0..x3 (normal, x0 and x1 shifted by `shift`), colour/plan (categorical)."""
    rng = np.random.default_rng(seed)
    data = {}
    for i, name in enumerate(NUMERIC):
        data[name] = rng.normal(shift if i < 2 else 0.0, 1.0, n).round(6)
    p = [0.2, 0.3, 0.5] if cat_shift else [0.5, 0.3, 0.2]
    data["colour"] = rng.choice(["red", "green", "blue"], n, p=p)
    data["plan"] = rng.choice(["basic", "pro"], n, p=[0.7, 0.3])
    if scores:
        s = rng.beta(2, 3, n)
        data["row_id"] = np.array([f"r{start + i}" for i in range(n)])
        data["score"] = s.round(6)
    return data


def to_csv(data) -> bytes:
    cols = list(data)
    out = io.StringIO()
    out.write(",".join(cols) + "\n")
    for row in zip(*(data[c] for c in cols), strict=True):
        out.write(",".join(str(v) for v in row) + "\n")
    return out.getvalue().encode()


def to_parquet(data) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({k: pa.array(v) for k, v in data.items()}), buf)
    return buf.getvalue()


def to_ndjson(data) -> bytes:
    import json

    cols = list(data)
    rows = [dict(zip(cols, (v.item() if hasattr(v, "item") else v for v in row), strict=True))
            for row in zip(*(data[c] for c in cols), strict=True)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def base_url(version):
    return f"/api/v1/models/{version.model.name}/versions/{version.number}/monitoring/"


@pytest.fixture
def upload(api):
    """upload(user, version, what, name, content, **fields) → response."""

    def send(user, version, what, name, content, **fields):
        return api(user).post(base_url(version) + f"{what}/", {"file": SimpleUploadedFile(name, content), **fields},
                              format="multipart")

    return send


W1 = {"window_start": "2026-11-01T00:00:00Z", "window_end": "2026-11-02T00:00:00Z"}
W2 = {"window_start": "2026-11-02T00:00:00Z", "window_end": "2026-11-03T00:00:00Z"}
ALL = {"window_start": "2026-10-01T00:00:00Z", "window_end": "2026-12-01T00:00:00Z"}


@pytest.fixture
def monitored(inventory, cast, upload):
    """The inventory's version with a 2,000-row reference (Wasserstein / Jensen–Shannon)."""
    version = inventory["version"]
    r = upload("dana", version, "reference", "ref.csv", to_csv(frame(2000, seed=1)))
    assert r.status_code == 201, r.json()
    return version


def run_check(check_id):
    """Run every part of a check as the worker would (in this process)."""
    from monitoring.models import CheckPart, DriftCheck
    from monitoring.tasks import check_part_task

    for part in CheckPart.objects.filter(check_run_id=check_id):
        check_part_task(part.job_id)
    return DriftCheck.objects.get(pk=check_id)
