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


def _body(exp, rng, per_arm):
    if exp.test == "mcnemar":
        return shadow_csv(rng.integers(0, 2, per_arm), rng.integers(0, 2, per_arm))
    if exp.kind == "shadow":
        return shadow_csv(rng.normal(1, 1, per_arm), rng.normal(1.2, 1, per_arm))
    return ab_csv(rng.normal(10, 1, per_arm), rng.normal(10.5, 1, per_arm))


@pytest.mark.parametrize(("test", "reads"), [
    ("welch_t", 1), ("mann_whitney_u", 1), ("paired_t", 1), ("mcnemar", 1), ("wilcoxon_signed_rank", 2),
])
def test_analysis_reads_the_events_once(make_experiment, upload, analyse, test, reads):
    """At the horizon (no event past it) the one aggregate serves data quality and the test."""
    rng = np.random.default_rng(5)
    exp = make_experiment(test)
    per_arm = exp.n_per_arm if exp.kind == "ab" else exp.total_n
    assert upload(exp, _body(exp, rng, per_arm)).status_code == 201
    with CaptureQueriesContext(connection) as ctx:
        result = analyse(exp)
    assert result["status"] == "completed"
    assert len(event_reads(ctx.captured_queries)) == reads, event_reads(ctx.captured_queries)
    rows = 2 * per_arm if exp.kind == "ab" else per_arm
    assert result["progress"]["units"] == result["input_counts"]["events"] == rows


@pytest.mark.parametrize(("test", "reads"), [("welch_t", 4), ("mann_whitney_u", 4), ("paired_t", 3)])
def test_past_the_horizon_the_planned_window_is_read_again(make_experiment, upload, analyse, test, reads):
    """Past the horizon: the aggregate over everything (data quality, progress), one indexed
    lookup of the horizon's last event per arm, and the aggregate over the planned window."""
    rng = np.random.default_rng(6)
    exp = make_experiment(test)
    per_arm = 2 * (exp.n_per_arm if exp.kind == "ab" else exp.total_n)
    assert upload(exp, _body(exp, rng, per_arm)).status_code == 201
    with CaptureQueriesContext(connection) as ctx:
        result = analyse(exp)
    assert result["status"] == "completed"
    assert len(event_reads(ctx.captured_queries)) == reads, event_reads(ctx.captured_queries)
