"""An analysis reads the events table once (twice for the signed-rank test): counts, missing
values, SRM and progress come from the same aggregate as the test, and so do Mann–Whitney's
ranks. benchmarks/abtests_analysis.py times it."""

import re

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from abtests.models import Event

from .conftest import ab_csv, shadow_csv

pytestmark = pytest.mark.django_db


def event_reads(queries) -> list[str]:
    table = re.compile(rf"\b{Event._meta.db_table}\b")  # not abtests_eventbatch
    return [q["sql"] for q in queries if table.search(q["sql"])]


@pytest.mark.parametrize(("test", "reads"), [
    ("welch_t", 1), ("mann_whitney_u", 1), ("paired_t", 1), ("mcnemar", 1), ("wilcoxon_signed_rank", 2),
])
def test_analysis_reads_the_events_once(make_experiment, upload, analyse, test, reads):
    rng = np.random.default_rng(5)
    exp = make_experiment(test)
    if test == "mcnemar":
        body = shadow_csv(rng.integers(0, 2, 120), rng.integers(0, 2, 120))
    elif exp.kind == "shadow":
        body = shadow_csv(rng.normal(1, 1, 120), rng.normal(1.2, 1, 120))
    else:
        body = ab_csv(rng.normal(10, 1, 200), rng.normal(10.5, 1, 200))
    assert upload(exp, body).status_code == 201
    with CaptureQueriesContext(connection) as ctx:
        result = analyse(exp)
    assert result["status"] == "completed"
    assert len(event_reads(ctx.captured_queries)) == reads, event_reads(ctx.captured_queries)
    rows = 400 if exp.kind == "ab" else 120
    assert result["progress"]["units"] == result["input_counts"]["events"] == rows
