"""Event uploads validated by column (pyarrow) and written in bulk (COPY on PostgreSQL, large
executemany on SQLite): the same guarantees as row by row (issue 12, "Ingest at the speed of the
database")."""

import io
import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.utils import timezone

from abtests import eventcolumns, eventrows
from abtests.models import Event, EventBatch
from audit.models import AuditEvent

from .conftest import csv_body, ndjson_body

pytestmark = pytest.mark.django_db
HEADER = ["unit_id", "arm", "value"]


def _rows(n):
    return [(f"u{i}", "control" if i % 2 else "treatment", f"{i % 7}.25") for i in range(n)]


@pytest.fixture
def row_by_row_forbidden(monkeypatch):
    """Fail if the upload falls back to the row-by-row reader: the column reader must decide."""

    def refuse(*args, **kwargs):
        raise AssertionError("read row by row")

    monkeypatch.setattr(eventrows, "read_rows", refuse)


def test_a_bad_row_at_the_end_of_a_large_file_is_named_and_nothing_is_stored(make_experiment, upload, row_by_row_forbidden):
    exp = make_experiment("welch_t")
    rows = _rows(60_000)
    rows[-1] = ("u-last", "control", "twelve")
    r = upload(exp, csv_body(HEADER, rows))
    assert r.status_code == 400, r.content
    assert r.json()["errors"] == {"rows": ["row 60000: value: not a number ('twelve')"]}
    assert not Event.objects.filter(experiment=exp).exists()
    assert not EventBatch.objects.filter(experiment=exp).exists()
    assert not AuditEvent.objects.filter(action="experiment.events_ingest").exists()


def test_the_column_reader_names_each_bad_row_like_the_row_reader(make_experiment, upload, row_by_row_forbidden):
    exp = make_experiment("two_proportion_z", secondary_metrics=[{"name": "clicked", "type": "binary"}])
    rows = [(f"u{i}", "control", "1", "0") for i in range(1000)]
    rows[10] = ("u10", "control", "0.5", "0")
    rows[200] = ("u200", "placebo", "1", "0")
    rows[300] = ("  ", "control", "1", "0")
    rows[400] = ("u400", "control", "inf", "0")
    rows[500] = ("u500", "control", "1", "2")
    rows[600] = ("x" * 201, "control", "1", "0")
    r = upload(exp, csv_body([*HEADER, "clicked"], rows))
    assert r.status_code == 400, r.content
    assert r.json()["errors"]["rows"] == [
        "row 11: value: must be 0 or 1 for a binary metric (got '0.5')",
        "row 201: arm: unknown arm 'placebo' (expected control, treatment)",
        "row 301: unit_id: required",
        "row 401: value: must be finite",
        "row 501: clicked: must be 0 or 1 for a binary metric (got '2')",
        "row 601: unit_id: longer than 200 characters",
    ]
    assert not Event.objects.filter(experiment=exp).exists()


def test_at_most_fifty_bad_rows_are_reported(make_experiment, upload):
    exp = make_experiment("welch_t")
    rows = [(f"u{i}", "control", "x") for i in range(500)]
    r = upload(exp, csv_body(HEADER, rows))
    assert r.status_code == 400
    assert len(r.json()["errors"]["rows"]) == 50 and r.json()["errors"]["rows"][-1].startswith("row 50: ")


def test_an_ndjson_line_without_value_is_refused_but_a_null_value_is_missing(make_experiment, upload):
    exp = make_experiment("welch_t")
    ok = ndjson_body([{"unit_id": "a", "arm": "control", "value": None}, {"unit_id": "b", "arm": "control", "value": 2}])
    assert upload(exp, ok, content_type="application/x-ndjson").status_code == 201
    bad = ndjson_body([{"unit_id": "c", "arm": "control", "value": 1}, {"unit_id": "d", "arm": "control"}])
    r = upload(exp, bad, content_type="application/x-ndjson")
    assert r.status_code == 400
    assert r.json()["errors"]["rows"] == ["row 2: value: required (leave it empty if the outcome is missing)"]
    assert Event.objects.filter(experiment=exp).count() == 2


def test_a_duplicate_event_id_in_the_file_keeps_the_first(make_experiment, upload):
    exp = make_experiment("welch_t")
    body = csv_body([*HEADER, "event_id"], [("a", "control", "1", "e1"), ("b", "control", "2", "e2"), ("c", "treatment", "3", "e1")])
    r = upload(exp, body)
    assert r.status_code == 201, r.content
    assert r.json()["rows"] == 3 and r.json()["stored"] == 2
    assert Event.objects.get(experiment=exp, event_id="e1").unit_id == "a"


def test_event_ids_stored_before_are_skipped_in_a_large_batch(make_experiment, upload):
    """On PostgreSQL the plain COPY meets the unique key and the batch goes in through a
    temporary table with ON CONFLICT DO NOTHING; the answer is the same on both databases."""
    exp = make_experiment("welch_t")
    first = csv_body([*HEADER, "event_id"], [(f"u{i}", "control", "1", f"e{i}") for i in range(0, 3000, 3)])
    assert upload(exp, first).json()["stored"] == 1000
    second = csv_body([*HEADER, "event_id"], [(f"v{i}", "treatment", "2", f"e{i}") for i in range(3000)])
    r = upload(exp, second)
    assert r.status_code == 201, r.content
    assert r.json()["rows"] == 3000 and r.json()["stored"] == 2000
    assert Event.objects.filter(experiment=exp).count() == 3000
    assert Event.objects.get(experiment=exp, event_id="e3").unit_id == "u3"  # the stored one stays
    assert Event.objects.get(experiment=exp, event_id="e4").unit_id == "v4"


def test_a_re_upload_of_a_large_ndjson_body_stores_nothing(make_experiment, upload):
    exp = make_experiment("welch_t")
    body = ndjson_body([{"unit_id": f"u{i}", "arm": "control", "value": i / 3} for i in range(5000)])
    assert upload(exp, body, content_type="application/x-ndjson").status_code == 201
    again = upload(exp, body, content_type="application/x-ndjson")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Event.objects.filter(experiment=exp).count() == 5000
    assert AuditEvent.objects.filter(action="experiment.events_ingest").count() == 1


def test_stored_values_are_exactly_the_files(make_experiment, upload, row_by_row_forbidden):
    exp = make_experiment("welch_t", secondary_metrics=[{"name": "clicked", "type": "binary"}, {"name": "spend", "type": "continuous"}])
    values = [0.1, 1 / 3, 1e-300, 123456789.123456789, -0.0, 5.0]
    rows = [
        (f" u{i} ", "treatment" if i % 2 else "control", repr(v), f"e{i}" if i != 3 else "",
         ["2026-01-02T03:04:05.123456Z", "2026-01-02 03:04:05", "2026-03-04T05:06:07+02:00", "", "2026-01-02T00:00:00Z", "2026-01-02 03:04:05.5"][i],
         "1" if i % 2 else "", "" if i == 4 else repr(v * 2))
        for i, v in enumerate(values)
    ]
    before = timezone.now()
    r = upload(exp, csv_body([*HEADER, "event_id", "timestamp", "clicked", "spend"], rows))
    assert r.status_code == 201, r.content
    stored = {e.unit_id: e for e in Event.objects.filter(experiment=exp)}
    assert sorted(stored) == [f"u{i}" for i in range(6)]  # trimmed
    assert [stored[f"u{i}"].value for i in range(6)] == values
    assert stored["u0"].timestamp == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert stored["u1"].timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # naive → UTC
    assert stored["u2"].timestamp == datetime(2026, 3, 4, 3, 6, 7, tzinfo=UTC)
    assert before <= stored["u3"].timestamp <= timezone.now()  # none → upload time
    assert stored["u5"].timestamp == datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    sha = EventBatch.objects.get(experiment=exp).sha256
    assert stored["u3"].event_id == f"{sha[:16]}:4" and stored["u2"].event_id == "e2"
    assert stored["u1"].metrics == {"clicked": 1.0, "spend": 2 / 3}
    assert stored["u4"].metrics is None
    assert stored["u0"].metrics == {"spend": 0.2}
    assert stored["u1"].arm.name == "treatment" and stored["u0"].arm.name == "control"
    # Event times compare as times on both databases (SQLite keeps them as text).
    assert Event.objects.filter(experiment=exp, timestamp__gt=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)).count() == 4


def test_the_column_reader_and_the_row_reader_agree(make_experiment):
    exp = make_experiment("welch_t", secondary_metrics=[{"name": "spend", "type": "continuous"}])
    arms = {a.name: a for a in exp.arms.all()}
    body = csv_body([*HEADER, "event_id", "timestamp", "spend"], [
        (f"u{i}", "control" if i % 3 else "treatment", "" if i % 11 == 0 else str(i / 7), f"e{i % 40}",
         f"2026-01-0{1 + i % 9}T0{i % 10}:00:00{'Z' if i % 2 else '+01:00'}", "" if i % 5 else str(i))
        for i in range(100)
    ])
    now = timezone.now()
    by_column = eventcolumns.read_table(io.BytesIO(body), "csv", exp, arms, now, "f" * 64)
    by_row = eventrows.read_rows(io.BytesIO(body), "csv", exp, arms, now, "f" * 64)
    for name in by_row.column_names:
        if name == "metrics":
            parse = [json.loads(m) if m else None for m in by_column[name].to_pylist()]
            assert parse == [json.loads(m) if m else None for m in by_row[name].to_pylist()]
        else:
            assert by_column[name].to_pylist() == by_row[name].to_pylist(), name


def test_a_file_the_columns_cannot_judge_is_read_row_by_row(make_experiment, upload):
    """A multi-line quoted value: pyarrow's block reader does not take it, the row reader does."""
    exp = make_experiment("welch_t")
    body = b'unit_id,arm,value\n"u1\nsecond line",control,1\nu2,treatment,2\n'
    r = upload(exp, body)
    assert r.status_code == 201, r.content
    assert sorted(Event.objects.filter(experiment=exp).values_list("unit_id", flat=True)) == ["u1\nsecond line", "u2"]


def test_a_body_that_is_not_utf8_is_refused_naming_body(make_experiment, upload):
    exp = make_experiment("welch_t")
    r = upload(exp, b"unit_id,arm,value\nu1,control,1\nu\xff,control,2\n")
    assert r.status_code == 400 and "body" in r.json()["errors"]
    assert not Event.objects.filter(experiment=exp).exists()


def test_a_large_upload_costs_a_fixed_number_of_queries(make_experiment, upload, django_assert_max_num_queries):
    exp = make_experiment("welch_t")
    upload(exp, csv_body(HEADER, _rows(10)))  # the token's first use and its caches
    with django_assert_max_num_queries(30):
        r = upload(exp, csv_body(HEADER, [(f"w{u}", a, v) for u, a, v in _rows(20_000)]))
    assert r.status_code == 201 and r.json()["stored"] == 20_000


@pytest.mark.postgres
def test_on_postgresql_the_rows_go_in_with_one_copy(make_experiment, upload, copy_statements):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    statements = copy_statements
    exp = make_experiment("welch_t")
    r = upload(exp, csv_body(HEADER, _rows(20_000)))
    assert r.status_code == 201 and r.json()["stored"] == 20_000
    assert len(statements) == 1 and statements[0].startswith('COPY "abtests_event" (')
    assert "FROM STDIN (FORMAT csv)" in statements[0]


def test_a_large_ndjson_file_is_judged_by_column(make_experiment, upload, row_by_row_forbidden):
    exp = make_experiment("welch_t")
    records = [{"unit_id": f"u{i}", "arm": "control", "value": i % 5, "timestamp": "2026-01-02T03:04:05Z"} for i in range(20_000)]
    records[-1] = {"unit_id": "", "arm": "control", "value": 1}
    body = "\ufeff".encode() + ndjson_body(records)
    r = upload(exp, body, content_type="application/x-ndjson")
    assert r.status_code == 400 and r.json()["errors"]["rows"] == ["row 20000: unit_id: required"]
    records[-1] = {"unit_id": "last", "arm": "treatment", "value": None}
    records[-2]["timestamp"] = "2026-03-04T05:06:07+02:00"
    r = upload(exp, ndjson_body(records), content_type="application/x-ndjson")
    assert r.status_code == 201 and r.json()["stored"] == 20_000
    assert Event.objects.get(experiment=exp, unit_id="last").value is None
    assert Event.objects.get(experiment=exp, unit_id="u0").timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert Event.objects.get(experiment=exp, unit_id="u19998").timestamp == datetime(2026, 3, 4, 3, 6, 7, tzinfo=UTC)
