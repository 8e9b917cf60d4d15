"""An uploaded event file as one validated column table (pyarrow), or the rows that are wrong.

`read_table` is the fast reader: pyarrow parses the CSV or NDJSON body, and every rule is checked
on whole columns (numbers, finiteness, 0/1, arm names, lengths, timestamps). The row-by-row
parser (`eventrows`) is the reference: it decides every row the columns flag (or cannot decide,
such as an NDJSON key that is absent rather than null), so a rejected batch names each bad row
with the same message whichever reader found it. When the fast reader meets something it does
not model (a ragged CSV row, an NDJSON line that is not an object, blank NDJSON lines, an odd
date-time) it raises `Undecided` and the caller reads the whole file row by row — slower, never
different.
"""

import csv
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from core.errors import InvalidInput

from .eventrows import MAX_REPORTED_ROW_ERRORS, TEXT_MAX, RowError, rejected, row_parser
from .models import Arm, Experiment

BOM = b"\xef\xbb\xbf"
OFFSET = r"\d\d:\d\d(:\d\d([.,]\d*)?)?\s*(Z|z|[+-]\d\d(:?\d\d)?)$"  # a time, then its zone


class Undecided(Exception):
    """The fast reader does not model something in this file; read it row by row."""


def _not_utf8(exc) -> InvalidInput:
    return InvalidInput("The body is not UTF-8 (with or without a byte-order mark).", fields={"body": [str(exc)]})


def _header(fh, columns: set[str], required: set[str]) -> list[str]:
    fh.seek(0)
    first = fh.readline()
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc) from exc
    header = next(csv.reader([line]), [])
    if missing := required - set(header):
        raise InvalidInput("The CSV header lacks required columns.", fields={"header": [f"missing: {', '.join(sorted(missing))}"]})
    if extra := set(header) - columns:
        raise InvalidInput("The CSV header has unknown columns.", fields={"header": [f"unknown: {', '.join(sorted(extra))}"]})
    return header


def _read(fh, fmt: str, columns: set[str], required: set[str]) -> tuple[pa.Table, list | None]:
    """The body as a table (CSV: every column as text) and, for NDJSON, the body's bytes."""
    if fmt == "csv":
        header = _header(fh, columns, required)
        ragged = []
        fh.seek(0)
        try:
            table = pacsv.read_csv(
                fh, read_options=pacsv.ReadOptions(block_size=16 << 20),
                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: ragged.append(row) or "skip"),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc):
                raise _not_utf8(exc) from exc
            raise Undecided from exc
        if ragged or len(set(header)) != len(header):
            raise Undecided
        return table, None
    fh.seek(0)
    data = fh.read()
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        table = pajson.read_json(io.BytesIO(data), read_options=pajson.ReadOptions(block_size=16 << 20))
    except pa.ArrowInvalid as exc:
        raise Undecided from exc
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if table.num_rows != lines or set(table.column_names) - columns:
        raise Undecided  # blank lines (counted in row numbers) or keys the rows may not have
    return table, data


def _text_column(table: pa.Table, name: str) -> pa.Array:
    """A text column, trimmed; absent or JSON null → ""."""
    n = table.num_rows
    if name not in table.column_names:
        return pa.repeat(pa.scalar("", pa.string()), n)
    col = table[name].combine_chunks()
    if pa.types.is_null(col.type):
        return pc.cast(col, pa.string()).fill_null("")
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise Undecided  # a number where text was expected: str() of it, row by row
    return pc.utf8_trim_whitespace(pc.cast(col, pa.string())).fill_null("")


def _numbers(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values with NaN for missing, missing, not a number) for a numeric column."""
    n = table.num_rows
    if name not in table.column_names:
        return np.full(n, np.nan), np.ones(n, bool), np.zeros(n, bool)
    col = table[name].combine_chunks()
    bad = np.zeros(n, bool)
    if pa.types.is_string(col.type):
        empty = pc.equal(col, "")
        col = pc.if_else(empty, pa.scalar(None, pa.string()), col)
        try:
            col = pc.cast(col, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            number = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
            ok = pc.fill_null(pc.match_substring_regex(col, number), True)
            bad = ~ok.to_numpy(zero_copy_only=False)
            col = pc.cast(pc.if_else(ok, col, pa.scalar(None, pa.string())), pa.float64())
    elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type) \
            or pa.types.is_null(col.type):
        col = pc.cast(col, pa.float64())
    else:
        raise Undecided
    values = col.to_numpy(zero_copy_only=False).astype(float, copy=False)
    missing = col.is_null().to_numpy(zero_copy_only=False) & ~bad
    return values, missing, bad


def _number_problems(values, missing, bad, binary: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        wrong = bad | (~missing & ~np.isfinite(values))
        if binary:
            wrong |= ~missing & np.isfinite(values) & (values != 0) & (values != 1)
    return wrong


def _timestamps(table: pa.Table, now) -> pa.Array:
    """Event times (UTC; missing → `now`)."""
    stamp_now = pa.scalar(now, pa.timestamp("us", tz="UTC"))
    if "timestamp" not in table.column_names:
        return pa.repeat(stamp_now, table.num_rows)
    if pa.types.is_timestamp(table["timestamp"].type):
        # pyarrow's JSON reader turned ISO 8601 strings into times already (offsets applied: UTC).
        col = pc.cast(table["timestamp"].combine_chunks(), pa.timestamp("us"))
        return pc.fill_null(pc.assume_timezone(col, "UTC"), stamp_now)
    col = _text_column(table, "timestamp")
    empty = pc.equal(col, "")
    col = pc.if_else(empty, pa.scalar(None, pa.string()), col)
    zoned = pc.fill_null(pc.match_substring_regex(col, OFFSET), False)
    try:
        with_zone = pc.cast(pc.if_else(zoned, col, pa.scalar(None, pa.string())), pa.timestamp("us", tz="UTC"))
        naive = pc.cast(pc.if_else(zoned, pa.scalar(None, pa.string()), col), pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise Undecided from None  # a bad (or unusual) date-time somewhere: row by row
    naive = pc.assume_timezone(naive, "UTC")
    merged = pc.if_else(zoned, with_zone, naive)
    return pc.fill_null(merged, stamp_now)


def _json_number(values: pa.Array) -> pa.Array:
    """Floats as JSON text the way json.dumps writes a float (1 → "1.0")."""
    text = pc.cast(values, pa.string())
    integral = pc.match_substring_regex(text, r"^-?\d+$")
    return pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)


def _metrics(columns: dict[str, np.ndarray], n: int) -> pa.Array:
    if not columns:
        return pa.nulls(n, pa.string())
    joined = None  # '"a": 1.0, "b": 2.5' for the values present; null when none is
    for name, values in columns.items():
        arr = pa.array(values, mask=np.isnan(values))
        part = pc.binary_join_element_wise(json.dumps(name) + ": ", _json_number(arr), "")
        if joined is None:
            joined = part
        else:
            both = pc.binary_join_element_wise(joined, part, ", ")
            joined = pc.if_else(pc.is_null(joined), part, pc.if_else(pc.is_null(part), joined, both))
    return pc.binary_join_element_wise("{", joined, "}", "")


def _float_column(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


def read_table(fh, fmt: str, exp: Experiment, arms: dict[str, Arm], now, sha: str) -> pa.Table:
    """The validated rows as the columns of `abtests_event` (without `batch_id`). Raises
    InvalidInput naming the bad rows, or Undecided."""
    parse, columns, required = row_parser(exp, arms, now)
    table, ndjson = _read(fh, fmt, columns, required)
    n = table.num_rows
    if n == 0:
        raise InvalidInput("The body has no rows.", fields={"body": ["No rows."]})
    binary = exp.metric_type == Experiment.MetricType.BINARY
    wrong = np.zeros(n, bool)  # rows a rule refuses
    unsure = np.zeros(n, bool)  # rows the columns cannot judge (NDJSON: absent or null?)

    def checked_text(name, required_):
        text = _text_column(table, name)
        length = pc.utf8_length(text).to_numpy(zero_copy_only=False)
        problem = length > TEXT_MAX
        if required_:
            problem |= length == 0
        return text, problem

    def checked_number(name, binary_, required_):
        values, missing, bad = _numbers(table, name)
        if required_ and ndjson is not None:
            unsure[:] |= missing  # {"value": null} is allowed, a line without "value" is not
        return values, _number_problems(values, missing, bad, binary_)

    event_id, problem = checked_text("event_id", False)
    wrong |= problem
    timestamps = _timestamps(table, now)
    out = {"experiment_id": pa.array(np.full(n, exp.pk, np.int64))}
    if exp.kind == Experiment.Kind.SHADOW:
        out["arm_id"] = pa.nulls(n, pa.int64())
        out["unit_id"], problem = checked_text("request_id", True)
        wrong |= problem
        pair = {}
        for key in ("champion_value", "challenger_value"):
            pair[key], problem = checked_number(key, binary, True)
            wrong |= problem
        out["value"] = pa.nulls(n, pa.float64())
        out["champion_value"], out["challenger_value"] = (_float_column(pair[k]) for k in pair)
        out["metrics"] = pa.nulls(n, pa.string())
    else:
        out["unit_id"], problem = checked_text("unit_id", True)
        wrong |= problem
        arm, _ = checked_text("arm", True)
        names = list(arms)
        position = pc.index_in(arm, value_set=pa.array(names, pa.string()))
        wrong |= position.is_null().to_numpy(zero_copy_only=False)
        out["arm_id"] = pc.take(pa.array([arms[a].pk for a in names], pa.int64()), position)
        value, problem = checked_number("value", binary, True)
        wrong |= problem
        out["value"] = _float_column(value)
        out["champion_value"] = out["challenger_value"] = pa.nulls(n, pa.float64())
        metrics = {}
        for m in exp.secondary_metrics or []:
            metrics[m["name"]], problem = checked_number(m["name"], m["type"] == Experiment.MetricType.BINARY, False)
            wrong |= problem
        out["metrics"] = _metrics(metrics, n)

    _judge_rows(table, ndjson, parse, wrong, unsure)
    generated = pc.binary_join_element_wise(sha[:16], pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), ":")
    out["event_id"] = pc.if_else(pc.equal(event_id, ""), generated, event_id)
    out["timestamp"] = timestamps
    return pa.table(out)


def _judge_rows(table, ndjson, parse, wrong, unsure):
    """Let the row parser decide every flagged row: its messages are the answer."""
    errors = []
    flagged = np.flatnonzero(wrong | unsure)
    lines = ndjson.split(b"\n") if ndjson is not None and flagged.size else None  # NDJSON row n is line n
    for i in flagged:
        if lines is not None:
            try:
                record = json.loads(lines[i])
            except ValueError:
                raise Undecided from None
        else:
            record = {name: table[name][int(i)].as_py() for name in table.column_names}
        try:
            parse(record)
        except RowError as exc:
            errors.append(f"row {i + 1}: {exc}")
            if len(errors) >= MAX_REPORTED_ROW_ERRORS:
                break
            continue
        if wrong[i]:
            raise Undecided  # the columns were stricter than the rule: let the rule read the file
    if errors:
        raise rejected(errors)
