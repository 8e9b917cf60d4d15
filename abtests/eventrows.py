"""An uploaded event file read row by row: the reference meaning of every rule.

`row_parser` turns one record (a CSV row as text, an NDJSON object) into the values stored, or
raises RowError naming the field; `records` yields the records with their row numbers. The fast
reader (`eventcolumns`) checks the same rules on whole columns and asks this parser to word each
row it flags; a file it does not model is read here whole (`read_rows`).

Rows are numbered from 1: CSV row 1 is the first line after the header; NDJSON row n is line n.
"""

import csv
import io
import json
import math
from datetime import UTC

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import InvalidInput

from .models import Arm, Experiment

MAX_REPORTED_ROW_ERRORS = 50
TEXT_MAX = 200

class RowError(Exception):
    """What is wrong with one row (the message names the field)."""


def records(fh, fmt: str, columns: set[str], required: set[str]):
    """Yield (row number, dict) from the body, streaming. CSV row 1 is the first line after the
    header; NDJSON row n is line n (blank lines are skipped but counted)."""
    fh.seek(0)
    # utf-8-sig: UTF-8, with or without the byte-order mark Excel writes at the start.
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="" if fmt == "csv" else None)
    try:
        if fmt == "csv":
            reader = csv.DictReader(text)
            header = set(reader.fieldnames or [])
            if missing := required - header:
                raise InvalidInput("The CSV header lacks required columns.", fields={"header": [f"missing: {', '.join(sorted(missing))}"]})
            if extra := header - columns:
                raise InvalidInput("The CSV header has unknown columns.", fields={"header": [f"unknown: {', '.join(sorted(extra))}"]})
            for number, row in enumerate(reader, start=1):
                if None in row:
                    yield number, RowError("more fields than header columns")
                    continue
                yield number, {k: v for k, v in row.items() if v is not None}
        else:
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    yield number, RowError("not valid JSON")
                    continue
                if not isinstance(record, dict):
                    yield number, RowError("not a JSON object")
                    continue
                yield number, record
    except UnicodeDecodeError as exc:
        raise InvalidInput("The body is not UTF-8 (with or without a byte-order mark).", fields={"body": [str(exc)]}) from exc
    finally:
        text.detach()


def _number(raw, name: str, binary: bool):
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raw = int(raw)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise RowError(f"{name}: not a number ({str(raw)[:40]!r})") from None
    if not math.isfinite(value):
        raise RowError(f"{name}: must be finite")
    if binary and value not in (0.0, 1.0):
        raise RowError(f"{name}: must be 0 or 1 for a binary metric (got {str(raw)[:40]!r})")
    return value


def _text(raw, name: str, *, required: bool) -> str:
    value = "" if raw is None else str(raw).strip()
    if required and not value:
        raise RowError(f"{name}: required")
    if len(value) > 200:
        raise RowError(f"{name}: longer than 200 characters")
    return value


def row_parser(exp: Experiment, arms: dict[str, Arm], now):
    binary = exp.metric_type == Experiment.MetricType.BINARY
    secondary = {m["name"]: m["type"] == Experiment.MetricType.BINARY for m in exp.secondary_metrics or []}
    if exp.kind == Experiment.Kind.SHADOW:
        required = {"request_id", "champion_value", "challenger_value"}
    else:
        required = {"unit_id", "arm", "value"}
    columns = required | {"event_id", "timestamp"} | set(secondary)

    def parse(record: dict) -> dict:
        if extra := set(record) - columns:
            raise RowError(f"unknown field(s): {', '.join(sorted(map(str, extra)))[:200]}")
        stamp = record.get("timestamp")
        if stamp in (None, ""):
            when = now
        else:
            when = parse_datetime(str(stamp)) if isinstance(stamp, str) else None
            if when is None:
                raise RowError(f"timestamp: not an ISO 8601 date-time ({str(stamp)[:40]!r})")
            if timezone.is_naive(when):
                when = when.replace(tzinfo=UTC)
        out = {"event_id": _text(record.get("event_id"), "event_id", required=False), "timestamp": when}
        if exp.kind == Experiment.Kind.SHADOW:
            for key in ("request_id", "champion_value", "challenger_value"):
                if key not in record:
                    raise RowError(f"{key}: required")
            out["unit_id"] = _text(record.get("request_id"), "request_id", required=True)
            out["champion_value"] = _number(record.get("champion_value"), "champion_value", binary)
            out["challenger_value"] = _number(record.get("challenger_value"), "challenger_value", binary)
            return out
        out["unit_id"] = _text(record.get("unit_id"), "unit_id", required=True)
        arm_name = _text(record.get("arm"), "arm", required=True)
        if arm_name not in arms:
            raise RowError(f"arm: unknown arm {arm_name[:50]!r} (expected {', '.join(arms)})")
        out["arm"] = arms[arm_name]
        if "value" not in record:
            raise RowError("value: required (leave it empty if the outcome is missing)")
        out["value"] = _number(record.get("value"), "value", binary)
        metrics = {}
        for name, is_binary in secondary.items():
            value = _number(record.get(name), name, is_binary)
            if value is not None:
                metrics[name] = value
        out["metrics"] = metrics or None
        return out

    return parse, columns, required




def rejected(errors: list[str]) -> InvalidInput:
    return InvalidInput(
        f"The batch was rejected; nothing of it was stored ({len(errors)} bad row(s) reported).",
        fields={"rows": errors},
    )


def first_of_each_event(table: pa.Table) -> pa.Table:
    """Rows with an `event_id` seen earlier in the file dropped: the first one stays."""
    if pc.count_distinct(table["event_id"]).as_py() == table.num_rows:
        return table
    numbered = pa.table({"e": table["event_id"], "i": pa.array(np.arange(table.num_rows))})
    first = numbered.group_by("e", use_threads=False).aggregate([("i", "min")])["i_min"].to_numpy()
    return table.take(np.sort(first))


def read_rows(fh, fmt: str, exp: Experiment, arms: dict[str, Arm], now, sha: str) -> pa.Table:
    """The same table as `read_table`, read row by row with the reference parser."""
    parse, columns, required = row_parser(exp, arms, now)
    errors, parsed = [], []
    for number, record in records(fh, fmt, columns, required):
        try:
            if isinstance(record, RowError):
                raise record
            data = parse(record)
        except RowError as exc:
            errors.append(f"row {number}: {exc}")
            if len(errors) >= MAX_REPORTED_ROW_ERRORS:
                break
            continue
        if not errors:
            data["event_id"] = data["event_id"] or f"{sha[:16]}:{number}"
            parsed.append(data)
    if errors:
        raise rejected(errors)
    if not parsed:
        raise InvalidInput("The body has no rows.", fields={"body": ["No rows."]})
    metrics = [json.dumps(r["metrics"]) if r.get("metrics") else None for r in parsed]
    arm = [r["arm"].pk if r.get("arm") else None for r in parsed]
    table = pa.table({
        "experiment_id": pa.array([exp.pk] * len(parsed), pa.int64()),
        "arm_id": pa.array(arm, pa.int64()),
        "unit_id": pa.array([r["unit_id"] for r in parsed], pa.string()),
        "value": pa.array([r.get("value") for r in parsed], pa.float64()),
        "champion_value": pa.array([r.get("champion_value") for r in parsed], pa.float64()),
        "challenger_value": pa.array([r.get("challenger_value") for r in parsed], pa.float64()),
        "metrics": pa.array(metrics, pa.string()),
        "event_id": pa.array([r["event_id"] for r in parsed], pa.string()),
        "timestamp": pa.array([r["timestamp"] for r in parsed], pa.timestamp("us", tz="UTC")),
    })
    return table
